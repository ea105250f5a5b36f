# Every third-party dependency is found here, once, and exposed as an imported target.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS json url)
find_package(simdjson REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)
find_package(PkgConfig REQUIRED)
# libpqxx ships no CMake package on Debian 12.
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
if(EF45GW_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Boost.Asio/Beast as one interface target with the defines we want everywhere.
add_library(gw_boost INTERFACE)
add_library(gw::boost ALIAS gw_boost)
target_link_libraries(gw_boost INTERFACE Boost::headers Boost::json Boost::url Threads::Threads)
target_compile_definitions(gw_boost INTERFACE
  BOOST_ASIO_NO_DEPRECATED
  BOOST_BEAST_USE_STD_STRING_VIEW
  BOOST_ASIO_DISABLE_BOOST_COROUTINE)
