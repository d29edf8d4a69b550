#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <string_view>

int main(int argc, char* argv[]) {
    const char* backend = std::getenv("ASIO_SOCI_TEST_BACKEND");
    const char* url = std::getenv("ASIO_SOCI_TEST_POSTGRESQL_URL");
    if (backend && std::string_view(backend) == "postgresql" && (!url || !*url)) {
        std::cout << "skipped: ASIO_SOCI_TEST_POSTGRESQL_URL is not set, so the PostgreSQL "
                     "tests cannot run (./scripts/test sets it)\n";
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
