// jemalloc's settings for ef45-gatewayd, read by jemalloc at start-up (`malloc_conf`). One
// arena: one thread (the io_context's) makes nearly all allocations, and an arena per thread
// (jemalloc's default, 4 per core) kept ~6 MB more at 1,000 readers for no CPU gained
// (bench/poll/fleet_bench.py, issue 18). MALLOC_CONF in the environment overrides this.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's interface
const char* malloc_conf = "narenas:1";
}
