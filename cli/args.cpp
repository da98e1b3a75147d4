#include "cli/args.h"

namespace verity::cli {

std::string CommandSpec::help_hint() const {
  return "; run '" + program + (command.empty() ? "" : " " + command) + " --help'";
}

Error CommandSpec::usage(const std::string& what) const { return make_error("usage", what + help_hint()); }

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

namespace {

// The shared walk: options `spec` knows go into the result; other words go
// to `rest` when it is given, else they are positional (and an unknown
// option is an error).
Result<Args> walk(const CommandSpec& spec, const std::vector<std::string>& args, std::vector<std::string>* rest) {
  Args out;
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool looks_like_option = !options_ended && a.size() > 1 && a[0] == '-';
    if (!looks_like_option) {
      (rest ? *rest : out.positional).push_back(a);
      continue;
    }
    if (a == "--") {
      if (!rest) {
        options_ended = true;
        continue;
      }
      // The command's own parse ends its options there too.
      rest->insert(rest->end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    std::string name = a.substr(a.rfind("--", 0) == 0 ? 2 : 1), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const bool takes_value = spec.with_value.count(name) > 0;
    const bool is_switch = spec.switches.count(name) > 0;
    if (a.rfind("--", 0) != 0 || (!takes_value && !is_switch)) {
      if (rest) {
        rest->push_back(a);
        continue;
      }
      return spec.usage("unknown option '" + a.substr(0, a.find('=')) + "'");
    }
    if (takes_value && !inline_value) {
      if (i + 1 >= args.size()) return spec.usage("option '--" + name + "' needs a value");
      value = args[++i];
    }
    if (is_switch && inline_value) return spec.usage("option '--" + name + "' takes no value");
    auto& slot = out.values[name];
    if (!slot.empty() && !spec.repeatable.count(name)) return spec.usage("option '--" + name + "' given twice");
    slot.push_back(std::move(value));
  }
  return out;
}

}  // namespace

Result<Args> parse_args(const CommandSpec& spec, const std::vector<std::string>& args) {
  auto out = walk(spec, args, nullptr);
  if (!out) return out;
  if (out->positional.size() < spec.min_positional) return spec.usage("missing " + spec.positional_name);
  if (out->positional.size() > spec.max_positional)
    return spec.usage("unexpected argument '" + out->positional[spec.max_positional] + "'");
  return out;
}

Result<Args> take_options(const CommandSpec& spec, const std::vector<std::string>& args,
                          std::vector<std::string>& rest) {
  return walk(spec, args, &rest);
}

Result<std::string> required(const Args& args, const CommandSpec& spec, const std::string& option,
                             const std::string& what) {
  auto v = args.get(option);
  if (!v || v->empty()) return spec.usage("missing --" + option + (what.empty() ? "" : " " + what));
  return *v;
}

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace verity::cli
