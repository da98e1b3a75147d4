#include "node/client.h"

// The commands live in node/client.cpp (a CliProgram, like verityd's);
// docs/client.md describes them.
int main(int argc, char** argv) { return verity::node::client_main(argc, argv); }
