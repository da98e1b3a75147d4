#pragma once
// The subcommands of verityd (see docs/node.md):
//
//   init            creates a home: keys, config.toml, genesis.json
//   start           runs the node until SIGINT or SIGTERM
//   show-node-id    prints the node key (for peers' persistent_peers)
//   show-validator  prints the validator (consensus) key
//   votes           prints every vote this validator ever signed

#include "cli/program.h"

namespace verity::node {

cli::CliProgram verityd_program();

}  // namespace verity::node
