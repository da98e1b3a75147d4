#include "node/verityd_commands.h"

int main(int argc, char** argv) { return verity::node::run_cli(verity::node::verityd_program(), argc, argv); }
