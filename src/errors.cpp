// log_message(): exception messages made fit for log lines.
#include <asio_soci/errors.hpp>

#include "logging.hpp"

#include <soci/error.h>

#include <string_view>
#include <utility>

namespace asio_soci {

using detail::single_line;

namespace {

// A driver message without the lines that quote row values (PostgreSQL's DETAIL, e.g.
// "Key (email)=(ann@example.org) already exists.").
std::string without_detail(std::string_view message) {
    std::string out;
    for (std::size_t pos = 0; pos < message.size();) {
        auto end = message.find('\n', pos);
        if (end == std::string_view::npos)
            end = message.size();
        const auto line = message.substr(pos, end - pos);
        if (!line.starts_with("DETAIL:"))
            out.append(line).append("\n");
        pos = end + 1;
    }
    return out;
}

}  // namespace

database_error::database_error(const soci::soci_error& original, std::string sqlstate,
                               int native_code, std::string constraint)
    : soci::soci_error(original),
      sqlstate_(std::move(sqlstate)),
      native_code_(native_code),
      constraint_(std::move(constraint)) {}

std::string log_message(const std::exception& e, bool with_values) {
    const auto* sql_error = dynamic_cast<const soci::soci_error*>(&e);
    if (with_values || !sql_error)
        return single_line(e.what());
    // what() is the driver's message, then SOCI's context: `while executing "<query>"
    // with :name="value", ...`. Keep the message and the query, drop the values.
    const std::string message = sql_error->get_error_message();
    std::string_view context{e.what()};
    if (context.starts_with(message))
        context.remove_prefix(message.size());
    else if (!message.empty() && message.back() == '.' &&
             context.starts_with(std::string_view(message).substr(0, message.size() - 1)))
        context.remove_prefix(message.size() - 1);  // SOCI drops the message's full stop
    else
        context = {};
    if (const auto values = context.rfind("\" with :"); values != std::string_view::npos)
        context = context.substr(0, values + 1);
    return single_line(without_detail(message) + std::string(context));
}

}  // namespace asio_soci
