#pragma once
// What the task contract needs from the sandbox without linking it: the
// admission of a task module and the hash of the module the workers will run
// (the sandbox's metering rewriter: docs/sandbox.md, "Metering"). The node
// supplies the implementation (node/module_meter.h, on worker/); it must be
// a pure function of its arguments, as everything a contract calls is: the
// same module and version give the same answer on every node.

#include "core/bytes.h"
#include "core/hash.h"
#include "core/result.h"

namespace verity::contracts {

class ModuleMeter {
 public:
  virtual ~ModuleMeter() = default;
  // SHA-256 of the instrumented module that metering version `version`
  // makes of `module`, or why the module cannot be a task (the reason is the
  // sandbox's outcome name: invalid-module, forbidden-import,
  // memory-exceeded; or unknown-metering-version).
  virtual Result<Hash256> metered_hash(ByteView module, std::uint64_t version) const = 0;
};

}  // namespace verity::contracts
