#pragma once

#include <string_view>

namespace gw {

/// The project version ("0.1.0") and the git commit it was built from ("unknown" outside git).
std::string_view Version();
std::string_view GitCommit();

}  // namespace gw
