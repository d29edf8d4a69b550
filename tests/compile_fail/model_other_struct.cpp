// Must not compile: a column of table<account> mapped to a member of another struct.
#include <asio_soci/model.hpp>

struct account {
    int id = 0;
};
struct invoice {
    int number = 0;
};

int main() {
    const auto table = asio_soci::table<account>("accounts")
                           .column("id", &account::id, asio_soci::sql::integer)
                           .column("number", &invoice::number, asio_soci::sql::integer);
    return static_cast<int>(table.definition().columns.size());
}
