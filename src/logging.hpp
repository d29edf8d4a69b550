// Where the library logs when the application names no logger.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

namespace asio_soci::detail {

/// `configured`, or the library's own logger: "asio_soci", on stderr (stdout is the
/// program's output), registered with spdlog so that spdlog::set_level() applies.
std::shared_ptr<spdlog::logger> logger_or_default(
    const std::shared_ptr<spdlog::logger>& configured);

/// `text` on one line: runs of whitespace (a driver's newlines and tabs) become one space,
/// and none is left at either end.
std::string single_line(std::string_view text);

}  // namespace asio_soci::detail
