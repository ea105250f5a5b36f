# Warnings for our own targets only (third-party headers are system includes).
add_library(gw_warnings INTERFACE)
add_library(gw::warnings ALIAS gw_warnings)
target_compile_options(gw_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(EF45GW_WERROR)
  target_compile_options(gw_warnings INTERFACE -Werror)
endif()
