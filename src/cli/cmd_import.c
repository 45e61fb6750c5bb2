/* placeholder replaced below */
int cu_cmd_import(int argc, char **argv);
int cu_cmd_import(int argc, char **argv) { (void)argc; (void)argv; return 2; }
