#include "logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>

namespace asio_soci::detail {

std::shared_ptr<spdlog::logger> logger_or_default(
    const std::shared_ptr<spdlog::logger>& configured) {
    if (configured)
        return configured;
    static const std::shared_ptr<spdlog::logger> library = [] {
        if (auto registered = spdlog::get("asio_soci"))
            return registered;  // the application made it first
        return spdlog::stderr_color_mt("asio_soci");
    }();
    return library;
}

std::string single_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool space = false;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            space = !out.empty();
            continue;
        }
        if (space)
            out += ' ';
        space = false;
        out += c;
    }
    return out;
}

}  // namespace asio_soci::detail
