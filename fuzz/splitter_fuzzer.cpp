// libFuzzer target: the migration statement splitter on arbitrary scripts, in both
// dialects. It may only throw asio_soci::error (e.g. an unterminated quote), and every
// statement it returns is non-empty and starts on a line within the script.
#include <asio_soci/errors.hpp>
#include <asio_soci/migrations.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view script(reinterpret_cast<const char*>(data), size);
    const auto lines = static_cast<std::size_t>(std::count(script.begin(), script.end(), '\n')) + 1;
    for (auto dialect : {asio_soci::backend::sqlite3, asio_soci::backend::postgresql}) {
        try {
            for (const auto& statement : asio_soci::split_sql_script(script, dialect)) {
                if (statement.text.empty() || statement.line < 1 || statement.line > lines)
                    std::abort();
            }
        } catch (const asio_soci::error&) {
        }
    }
    return 0;
}
