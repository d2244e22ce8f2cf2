#include "common/config.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"

namespace admissions {

Config::Config(int argc, char** argv) : program_(argc > 0 ? argv[0] : "") {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      errors_.push_back("unexpected argument: " + arg);
      continue;
    }
    auto eq = arg.find('=');
    if (eq == std::string::npos) {
      flags_[arg.substr(2)] = "true";
    } else {
      flags_[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
    }
  }
}

const std::string* Config::Lookup(const std::string& flag, const std::string& env) {
  auto it = flags_.find(flag);
  if (it != flags_.end()) return &it->second;
  if (!env.empty()) {
    if (const char* v = std::getenv(env.c_str()); v != nullptr) {
      flags_.emplace("\x01" + flag, v);  // Keep the value alive; the prefix avoids clashes.
      return &flags_["\x01" + flag];
    }
  }
  return nullptr;
}

std::string Config::String(const std::string& flag, const std::string& env, const std::string& def,
                           const std::string& help) {
  declared_.push_back({flag, env, def, help});
  const std::string* v = Lookup(flag, env);
  return v ? *v : def;
}

int64_t Config::Int(const std::string& flag, const std::string& env, int64_t def,
                    const std::string& help) {
  declared_.push_back({flag, env, std::to_string(def), help});
  const std::string* v = Lookup(flag, env);
  if (!v) return def;
  int64_t out = 0;
  if (!absl::SimpleAtoi(*v, &out)) {
    errors_.push_back("--" + flag + " must be an integer, got '" + *v + "'");
    return def;
  }
  return out;
}

bool Config::Bool(const std::string& flag, const std::string& env, bool def,
                  const std::string& help) {
  declared_.push_back({flag, env, def ? "true" : "false", help});
  const std::string* v = Lookup(flag, env);
  if (!v) return def;
  if (*v == "true" || *v == "1" || *v == "yes") return true;
  if (*v == "false" || *v == "0" || *v == "no" || v->empty()) return false;
  errors_.push_back("--" + flag + " must be true or false, got '" + *v + "'");
  return def;
}

absl::Status Config::Finish() {
  if (help_) {
    std::cout << "usage: " << program_ << " [--flag=value ...]\n";
    for (const auto& e : declared_) {
      std::cout << "  --" << e.flag << " (env " << e.env << ", default '" << e.def << "')\n      "
                << e.help << "\n";
    }
    std::exit(0);
  }
  for (const auto& [name, value] : flags_) {
    if (name[0] == '\x01') continue;
    bool known = false;
    for (const auto& e : declared_) known = known || e.flag == name;
    if (!known) errors_.push_back("unknown flag --" + name);
  }
  if (!errors_.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
  return absl::OkStatus();
}

}  // namespace admissions
