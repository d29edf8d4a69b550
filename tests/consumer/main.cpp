// Built against an installed asio_soci by tests/consumer/run.cmake.
#include <asio_soci/asio_soci.hpp>
#include <asio_soci/database_url.hpp>

#include <exception>
#include <iostream>
#include <string>

int main() {
    try {
        const auto url = asio_soci::database_url::parse("sqlite://");
        const std::string text = url.to_string();
        std::cout << text << '\n';
        return text.rfind("sqlite", 0) == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "consumer: " << e.what() << '\n';
        return 1;
    }
}
