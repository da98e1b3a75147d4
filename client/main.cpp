#include "client/client.h"

// The commands live in client/ (a CliProgram, like verityd's);
// docs/client.md describes them.
int main(int argc, char** argv) { return verity::client::client_main(argc, argv); }
