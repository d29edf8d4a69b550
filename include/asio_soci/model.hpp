// Declarative models (tornado-sqlalchemy's declarative_base): a table declared once for
// a plain struct; the schema made from it (create_all / drop_all); its rows converted by
// SOCI and read and written by typed statements; the models compared with a database
// and migrations generated from them (autogenerate). See docs/models.md.
#pragma once

#include <asio_soci/model/autogenerate.hpp>
#include <asio_soci/model/metadata.hpp>
#include <asio_soci/model/rows.hpp>
#include <asio_soci/model/table.hpp>
