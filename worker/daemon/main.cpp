#include "worker/daemon/loop.h"

int main(int argc, char** argv) { return verity::worker::worker_main(argc, argv); }
