// openapi-gen [--dev]: prints the OpenAPI document of the HTTP API to stdout. --dev includes
// the development-mode routes; docs/api/openapi.json is `openapi-gen --dev` (make openapi).
#include <cstdio>
#include <string>
#include <string_view>

#include "gateway/openapi/openapi.h"

int main(int argc, char** argv) {
  bool dev = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--dev") {
      dev = true;
    } else {
      std::fprintf(stderr, "usage: %s [--dev]\n", argv[0]);
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  std::string document = admissions::openapi::GenerateOpenApi(dev);
  if (std::fwrite(document.data(), 1, document.size(), stdout) != document.size() ||
      std::fflush(stdout) != 0) {
    std::perror("openapi-gen: stdout");
    return 1;
  }
  return 0;
}
