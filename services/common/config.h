#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace admissions {

/// Settings from `--name=value` flags, falling back to an environment variable,
/// then to a default. Every binary declares its settings through one Config so that
/// `--help` lists them and unknown flags are refused. docs/configuration.md holds
/// the table of all of them.
class Config {
 public:
  Config(int argc, char** argv);

  std::string String(const std::string& flag, const std::string& env, const std::string& def,
                     const std::string& help);
  int64_t Int(const std::string& flag, const std::string& env, int64_t def,
              const std::string& help);
  bool Bool(const std::string& flag, const std::string& env, bool def, const std::string& help);

  /// Call after every setting is declared: fails on unknown flags or bad values.
  /// Prints the settings and exits 0 on --help.
  absl::Status Finish();

 private:
  struct Entry {
    std::string flag, env, def, help;
  };
  const std::string* Lookup(const std::string& flag, const std::string& env);

  std::string program_;
  std::map<std::string, std::string> flags_;
  std::vector<Entry> declared_;
  std::vector<std::string> errors_;
  bool help_ = false;
};

}  // namespace admissions
