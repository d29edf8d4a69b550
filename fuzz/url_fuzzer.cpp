// libFuzzer target: database_url::parse on arbitrary input. It may only throw url_error,
// and what it accepts must render (to_string, connect string) without failing, with
// the password masked.
#include <asio_soci/database_url.hpp>
#include <asio_soci/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto url = asio_soci::database_url::parse(text);
        const auto shown = url.to_string();
        (void)url.soci_connect_string();
        // The password shows as *** in its place. (Its text may still appear elsewhere
        // in the shown URL, as part of a user, host or database name that shares it:
        // that is theirs, not a leak.)
        if (url.password()) {
            if (shown.find(":***@") == std::string::npos)
                std::abort();
            std::optional<asio_soci::database_url> reread;
            try {
                reread = asio_soci::database_url::parse(shown);
            } catch (const asio_soci::url_error&) {
                // Not every accepted URL renders as one that parses (query keys are
                // shown as given): the check above is what remains.
            }
            if (reread && reread->password() != "***")
                std::abort();
        }
    } catch (const asio_soci::url_error&) {
    }
    return 0;
}
