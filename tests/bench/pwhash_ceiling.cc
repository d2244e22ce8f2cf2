// pwhash-ceiling THREADS SECONDS [OPSLIMIT MEMLIMIT_KIB]: how many Argon2id verifies
// per second THREADS threads manage with identity's parameters. The login benchmark
// divides the measured login rate by this, taken in the same run.
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s THREADS SECONDS [OPSLIMIT MEMLIMIT_KIB]\n", argv[0]);
    return 2;
  }
  int threads = std::atoi(argv[1]);
  double seconds = std::atof(argv[2]);
  unsigned long long ops = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2;
  size_t mem = (argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 19456) * 1024;
  if (threads <= 0 || seconds <= 0 || sodium_init() < 0) return 2;
  char hash[crypto_pwhash_STRBYTES];
  const char password[] = "bench-password-1";
  if (crypto_pwhash_str_alg(hash, password, sizeof(password) - 1, ops, mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return 1;
  }
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      while (!stop.load()) {
        if (crypto_pwhash_str_verify(hash, password, sizeof(password) - 1) != 0) std::abort();
        done.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f\n", done.load() / elapsed);
  return 0;
}
