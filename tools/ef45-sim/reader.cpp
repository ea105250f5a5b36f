// Skeleton: answers every request with Poco's "no handler" 501 until the state machine lands.
#include "reader.hpp"

namespace ef45sim {

struct Reader::State {
  Identity identity;
  std::vector<GeneratedEvent> generated;
  Stats stats;
};

Reader::Reader(Identity identity, std::uint64_t /*seed*/) : state_(std::make_unique<State>()) {
  state_->identity = std::move(identity);
}
Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;

Response Reader::Handle(const Request& /*request*/) {
  ++state_->stats.requests;
  return Response{501, "", "text/html", "<html><body>Not Implemented</body></html>"};
}

void Reader::GenerateRecognition() {}
void Reader::GenerateDoorChange() {}
std::string Reader::Enroll() { return {}; }
void Reader::Reboot() {}
void Reader::StealLock() {}
void Reader::WipeLogs() {}
void Reader::SetClockSkew(std::chrono::seconds skew) { state_->stats.clock_skew_s = skew.count(); }
const Identity& Reader::identity() const { return state_->identity; }
const std::vector<GeneratedEvent>& Reader::Generated() const { return state_->generated; }
Stats Reader::GetStats() const { return state_->stats; }

}  // namespace ef45sim
