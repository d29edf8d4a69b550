// Must not compile: a text column stored in an int member. tests/CMakeLists.txt checks
// for the static_assert's message.
#include <asio_soci/model.hpp>

struct account {
    int id = 0;
    int name = 0;
};

inline const asio_soci::table<account>& table_of(asio_soci::model<account>) {
    static const auto table = asio_soci::table<account>("accounts")
                                  .column("id", &account::id, asio_soci::sql::integer)
                                  .column("name", &account::name, asio_soci::sql::text);
    return table;
}

int main() {
    return static_cast<int>(asio_soci::table_of<account>().definition().columns.size());
}
