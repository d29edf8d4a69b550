// libFuzzer target: database_url::parse on arbitrary input. It may only throw url_error,
// and what it accepts must render (to_string, connect string) without failing.
#include <asio_soci/database_url.hpp>
#include <asio_soci/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto url = asio_soci::database_url::parse(text);
        const auto shown = url.to_string();
        (void)url.soci_connect_string();
        if (const auto& password = url.password();
            password && password->size() >= 8 &&
            url.redact(shown).find(*password) != std::string::npos)
            std::abort();  // a password that survives redaction of the shown URL
    } catch (const asio_soci::url_error&) {
    }
    return 0;
}
