# The git commit baked into binaries (`--version`); "unknown" outside a checkout.
execute_process(
  COMMAND git -C ${CMAKE_SOURCE_DIR} rev-parse --short=12 HEAD
  OUTPUT_VARIABLE EF45GW_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET)
if(NOT EF45GW_GIT_COMMIT)
  set(EF45GW_GIT_COMMIT "unknown")
endif()
