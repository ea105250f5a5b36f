#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace gw::test {

/// A child process for e2e tests: started with argv, stdout+stderr to a log file, killed (SIGKILL)
/// when the object goes away if still running. Not thread-safe.
class Process {
 public:
  Process() = default;
  Process(std::vector<std::string> argv, std::string log_path,
          std::vector<std::string> extra_env = {});
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  /// Waits for the process to exit; its exit code, or 128 + signal, or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds deadline);
  /// SIGTERM, then SIGKILL after `grace`; the exit status.
  std::optional<int> Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  std::string Log() const;  ///< what it printed so far

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

/// A free TCP port on 127.0.0.1 right now (bound and released; a tiny race is accepted).
std::uint16_t FreePort();

/// A scratch directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);

/// A data key line for tests (`<id> <64 hex>`): the key is derived from `id`, so two calls
/// with one id give the same key.
std::string TestDataKeyLine(const std::string& id);
/// Writes a key file (mode 0600, as DataKeys requires) and returns the config's `security:`
/// line naming it. `lines`: the file's text; default one test key "k1".
std::string WriteDataKeys(const std::string& path, const std::string& lines = "");

/// Runs a shell command and returns its exit status (for pg.sh restart and the like).
int Shell(const std::string& command);

}  // namespace gw::test
