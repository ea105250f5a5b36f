// ef45ctl: one EF-45 reader operation from the command line, through gw::ef45::Client.
// Prints the reply as JSON on stdout; on failure one line on stderr and a non-zero exit.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ef45/client.hpp"
#include "ef45/encode.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace gw::ef45;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
/// Raw bytes per firmware unit: 768 KiB encode to exactly 1 MiB of base64.
constexpr std::size_t kFirmwareChunkBytes = 768 * 1024;

constexpr const char* kUsage =
    R"(usage: ef45ctl --reader HOST:PORT [--steal] [--timeout-ms N] [--lock-wait-ms N]
               [--with-biometrics] OPERATION [ARGS]
operations:
  version                                  application version (no lock)
  heartbeat
  door-status
  match-data
  biometric-data
  camera
  record-version
  subjects [--page N] [--page-size N]
  subject --uuid U
  user-info --uuid U | --card "65 D8 A1 BD"
  faces --uuid U
  logs --min A --max B [--page N] [--page-size N]
  logs [--page N] [--page-size N] [--order asc|desc]
  log --id N
  setting --title T --type int|bool|float|string [--set V]
  relay --duration S [--forced]
  set-time                                 the host clock (UTC) as MMddhhmmyyyy.ss
  firmware-upload FILE [--forced]          start, ~1 MB base64 units, done
The lock is taken for the call (POST /lock; --steal takes it with PUT on 409) and released.
Templates and images are printed as their length unless --with-biometrics is given.
)";

struct Args {
  std::string host;
  std::uint16_t port = 0;
  bool steal = false;
  bool with_biometrics = false;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds lock_wait{0};
  std::string operation;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --name value
  std::map<std::string, bool> flags;           // --forced
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "ef45ctl: " << why << "\n" << kUsage;
  std::exit(kExitUsage);
}

template <class T>
T Number(const std::string& text, const char* what) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    Usage(std::string(what) + ": not a number: " + text);
  }
  return value;
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  static const std::vector<std::string> kValueOptions = {
      "--page",  "--page-size", "--uuid",  "--card", "--min", "--max",
      "--order", "--id",        "--title", "--type", "--set", "--duration"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--reader") {
      std::string r = value();
      auto colon = r.rfind(':');
      if (colon == std::string::npos || colon == 0) Usage("--reader wants HOST:PORT");
      args.host = r.substr(0, colon);
      args.port = Number<std::uint16_t>(r.substr(colon + 1), "--reader port");
    } else if (a == "--steal") {
      args.steal = true;
    } else if (a == "--with-biometrics") {
      args.with_biometrics = true;
    } else if (a == "--timeout-ms") {
      args.timeout = std::chrono::milliseconds(Number<int>(value(), "--timeout-ms"));
    } else if (a == "--lock-wait-ms") {
      args.lock_wait = std::chrono::milliseconds(Number<int>(value(), "--lock-wait-ms"));
    } else if (a == "--forced") {
      args.flags[a] = true;
    } else if (std::find(kValueOptions.begin(), kValueOptions.end(), a) != kValueOptions.end()) {
      args.options[a] = value();
    } else if (a.starts_with("--")) {
      Usage("unknown option " + a);
    } else if (args.operation.empty()) {
      args.operation = a;
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.host.empty()) Usage("--reader HOST:PORT is required");
  if (args.operation.empty()) Usage("no operation given");
  return args;
}

std::optional<std::string> Opt(const Args& args, const std::string& name) {
  auto it = args.options.find(name);
  if (it == args.options.end()) return std::nullopt;
  return it->second;
}

std::string Need(const Args& args, const std::string& name) {
  auto v = Opt(args, name);
  if (!v) Usage(args.operation + " needs " + name);
  return *v;
}

PageRequest PageOf(const Args& args) {
  PageRequest page;
  if (auto p = Opt(args, "--page")) page.page = Number<std::int32_t>(*p, "--page");
  if (auto p = Opt(args, "--page-size")) page.page_size = Number<std::int32_t>(*p, "--page-size");
  return page;
}

SettingType TypeOfName(const std::string& name) {
  if (name == "int") return SettingType::kInt;
  if (name == "bool") return SettingType::kBool;
  if (name == "float") return SettingType::kFloat;
  if (name == "string") return SettingType::kString;
  Usage("--type must be int, bool, float or string");
}

SettingValue ValueOf(SettingType type, const std::string& text) {
  switch (type) {
    case SettingType::kInt: return Number<std::int32_t>(text, "--set");
    case SettingType::kBool:
      if (text != "true" && text != "false") Usage("--set for a bool is true or false");
      return text == "true";
    case SettingType::kFloat: {
      try {
        std::size_t used = 0;
        double d = std::stod(text, &used);
        if (used != text.size()) Usage("--set: not a number: " + text);
        return d;
      } catch (const std::exception&) {
        Usage("--set: not a number: " + text);
      }
    }
    case SettingType::kString: return text;
  }
  return text;
}

std::string Describe(const Error& error) {
  std::string line = error.detail.empty() ? std::string(gw::ReasonName(error.code)) : error.detail;
  line += " (";
  line += gw::ReasonName(error.code);
  if (error.http_status != 0) line += ", HTTP " + std::to_string(error.http_status);
  line += ")";
  if (error.reason() == gw::Errc::kLockConflict) line += "; --steal takes the lock by force";
  return line;
}

/// The outcome of the command: JSON to print, or an error line.
struct Outcome {
  std::optional<json::value> output;
  std::optional<std::string> error;
};

template <class T, class F>
Outcome From(Reply<T>&& reply, F&& to_json) {
  if (!reply) return {std::nullopt, Describe(reply.error())};
  return {to_json(*reply), std::nullopt};
}

Outcome FromVoid(Reply<void>&& reply) {
  if (!reply) return {std::nullopt, Describe(reply.error())};
  return {json::object{{"ok", true}}, std::nullopt};
}

asio::awaitable<Outcome> FirmwareUpload(Client& client, const Args& args) {
  if (args.positional.size() != 1) Usage("firmware-upload needs FILE");
  std::ifstream in(args.positional[0], std::ios::binary);
  if (!in) co_return Outcome{std::nullopt, "cannot open " + args.positional[0]};
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (bytes.empty()) co_return Outcome{std::nullopt, args.positional[0] + " is empty"};
  const bool forced = args.flags.count("--forced") > 0;
  auto started = co_await client.UpdateStart(forced);
  if (!started) co_return Outcome{std::nullopt, Describe(started.error())};
  std::size_t offset = 0;
  std::size_t units = 0;
  while (bytes.size() - offset > kFirmwareChunkBytes) {
    std::span<const unsigned char> unit(bytes.data() + offset, kFirmwareChunkBytes);
    auto sent = co_await client.UpdateChunk(Base64Encode(unit), forced);
    if (!sent) co_return Outcome{std::nullopt, Describe(sent.error())};
    offset += kFirmwareChunkBytes;
    ++units;
  }
  std::span<const unsigned char> last(bytes.data() + offset, bytes.size() - offset);
  auto done = co_await client.UpdateDone(Base64Encode(last), forced);
  if (!done) co_return Outcome{std::nullopt, Describe(done.error())};
  json::object out = ToJson(*done).as_object();
  out["units"] = units + 1;
  out["bytes"] = bytes.size();
  if (!done->ok()) co_return Outcome{std::nullopt, "firmware upload: reader says " + done->file};
  co_return Outcome{json::value(std::move(out)), std::nullopt};
}

asio::awaitable<Outcome> Run(Client& client, const Args& args) {
  const Biometrics bio = args.with_biometrics ? Biometrics::kInclude : Biometrics::kRedact;
  const std::string& op = args.operation;
  auto with_bio = [bio](const auto& v) { return ToJson(v, bio); };
  auto plain = [](const auto& v) { return ToJson(v); };
  if (op == "version") co_return From(co_await client.GetVersion(), plain);
  if (op == "heartbeat") co_return FromVoid(co_await client.Heartbeat());
  if (op == "door-status") co_return From(co_await client.GetDoorStatus(), plain);
  if (op == "camera") co_return From(co_await client.GetCamera(), plain);
  if (op == "record-version") co_return From(co_await client.GetRecordVersion(), plain);
  if (op == "match-data") {
    co_return From(co_await client.GetMatchData(),
                   [&](const auto& page) { return ToJson(page, with_bio); });
  }
  if (op == "biometric-data") {
    co_return From(co_await client.GetBiometricDataVer1(),
                   [&](const auto& page) { return ToJson(page, with_bio); });
  }
  if (op == "subjects") {
    co_return From(co_await client.ListSubjects(PageOf(args)),
                   [&](const auto& page) { return ToJson(page, with_bio); });
  }
  if (op == "subject") co_return From(co_await client.GetSubject(Need(args, "--uuid")), with_bio);
  if (op == "user-info") {
    if (auto card = Opt(args, "--card")) {
      co_return From(co_await client.GetUserInfoByCard(*card), plain);
    }
    co_return From(co_await client.GetUserInfo(Need(args, "--uuid")), plain);
  }
  if (op == "faces") {
    co_return From(co_await client.GetFaces(Need(args, "--uuid")), [&](const auto& faces) {
      json::array out;
      for (const Face& f : faces) out.push_back(ToJson(f, bio));
      return json::value(std::move(out));
    });
  }
  if (op == "logs") {
    auto page_json = [&](const auto& page) { return ToJson(page, with_bio); };
    if (Opt(args, "--min") || Opt(args, "--max")) {
      auto min = Number<std::int64_t>(Need(args, "--min"), "--min");
      auto max = Number<std::int64_t>(Need(args, "--max"), "--max");
      co_return From(co_await client.GetLogsRange(min, max, PageOf(args)), page_json);
    }
    std::optional<LogOrder> order;
    if (auto o = Opt(args, "--order")) {
      if (*o != "asc" && *o != "desc") Usage("--order is asc or desc");
      order = *o == "asc" ? LogOrder::kAsc : LogOrder::kDesc;
    }
    co_return From(co_await client.ListLogs(PageOf(args), order), page_json);
  }
  if (op == "log") {
    co_return From(co_await client.GetLog(Number<std::int64_t>(Need(args, "--id"), "--id")),
                   with_bio);
  }
  if (op == "setting") {
    std::string title = Need(args, "--title");
    SettingType type = TypeOfName(Need(args, "--type"));
    if (auto set = Opt(args, "--set")) {
      auto stored = co_await client.SetSetting(title, ValueOf(type, *set));
      if (!stored) co_return Outcome{std::nullopt, Describe(stored.error())};
    }
    co_return From(co_await client.GetSetting(title, type), plain);
  }
  if (op == "relay") {
    RelayOptions relay;
    relay.duration_s = Number<std::int32_t>(Need(args, "--duration"), "--duration");
    if (args.flags.count("--forced")) relay.forced = true;
    co_return FromVoid(co_await client.DriveRelay(relay));
  }
  if (op == "set-time") {
    std::string now = FormatDeviceTime(std::chrono::system_clock::now());
    co_return From(co_await client.SetDeviceTime(now), [&](const auto& reply) {
      json::value out = ToJson(reply);
      out.as_object()["device_time"] = now;
      return out;
    });
  }
  if (op == "firmware-upload") co_return co_await FirmwareUpload(client, args);
  Usage("unknown operation " + op);
}

asio::awaitable<int> Main(Client& client, Args args) {
  Outcome outcome = co_await Run(client, args);
  auto released = co_await client.Unlock();
  if (outcome.error) {
    std::cerr << "ef45ctl: " << args.operation << ": " << *outcome.error << "\n";
    co_return kExitFailed;
  }
  std::cout << json::serialize(*outcome.output) << "\n";
  if (!released) {
    std::cerr << "ef45ctl: releasing the lock: " << Describe(released.error()) << "\n";
    co_return kExitFailed;
  }
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  asio::io_context io;
  ClientOptions options;
  options.host = args.host;
  options.port = args.port;
  options.request_timeout = args.timeout;
  options.lock_policy = args.steal ? LockPolicy::kSteal : LockPolicy::kWait;
  options.lock_wait = args.lock_wait;
  Client client(io.get_executor(), options);
  int exit_code = kExitFailed;
  asio::co_spawn(io, Main(client, std::move(args)), [&](std::exception_ptr e, int code) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::cerr << "ef45ctl: internal error: " << ex.what() << "\n";
      }
      return;
    }
    exit_code = code;
  });
  io.run();
  return exit_code;
}
