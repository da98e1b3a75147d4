#include "node/worker_loop.h"

int main(int argc, char** argv) { return verity::node::worker_main(argc, argv); }
