// Prints the config.toml that `verityd init` writes with no options: the
// example config `meson install` puts in share/doc/verity/ (dist/meson.build).
#include <iostream>

#include "node/config.h"

int main() {
  std::cout << verity::node::render_config(verity::node::Config{});
  return 0;
}
