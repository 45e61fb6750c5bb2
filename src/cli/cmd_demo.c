int cu_cmd_demo(int argc, char **argv); int cu_cmd_demo(int argc, char **argv) { (void)argc; (void)argv; return 2; }
