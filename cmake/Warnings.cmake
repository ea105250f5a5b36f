# Warnings for our own targets only (third-party headers are system includes).
add_library(gw_warnings INTERFACE)
add_library(gw::warnings ALIAS gw_warnings)
target_compile_options(gw_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 misreports Asio's coroutine frame allocator (operator new/delete of
  # awaitable_frame_base) as mismatched in some coroutines (GCC bug 103969-like false positive).
  target_compile_options(gw_warnings INTERFACE -Wno-mismatched-new-delete)
endif()
if(EF45GW_WERROR)
  target_compile_options(gw_warnings INTERFACE -Werror)
endif()
