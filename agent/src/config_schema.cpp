#include "config_schema.hpp"

#include <algorithm>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

namespace certswap {
namespace {

using nlohmann::json;

// Number covers the whole-number keys too: the parser then says whether the
// value is whole and in range, which a type name can't.
enum class Type { String, Bool, Number, Object, Strings, Objects };

struct Field {
  std::string_view key;
  Type type;
  std::span<const Field> fields = {};  // Object, Objects: the keys one level down
};

constexpr Field kNotifierFields[] = {
    {"type", Type::String},   {"pid", Type::Number},      {"pid_file", Type::String},
    {"signal", Type::String}, {"command", Type::Strings}, {"env_pass", Type::Strings},
    {"url", Type::String},    {"timeout", Type::String},  {"workloads", Type::Strings},
};

constexpr Field kTargetFields[] = {
    {"name", Type::String},
    {"project", Type::String},
    {"service", Type::String},
    {"user", Type::String},
    {"output_dir", Type::String},
    {"state_dir", Type::String},
    {"kubernetes_secret", Type::String},
    {"kubeconfig", Type::String},
    {"kubernetes_take_over", Type::Bool},
    {"kubernetes_operator_keys", Type::String},
    {"bootstrap", Type::String},
    {"kafka_route", Type::String},
    {"privatelink_connection_id", Type::String},
    {"source", Type::String},
    {"format", Type::String},
    {"notify", Type::Objects, kNotifierFields},
    {"inbox_dir", Type::String},
    {"pkcs12_password_file", Type::String},
    {"pkcs12_legacy", Type::Bool},
    {"pkcs12_jks_truststore", Type::Bool},
    {"key_mode", Type::String},
    {"public_mode", Type::String},
    {"uid", Type::Number},
    {"gid", Type::Number},
    {"keep_generations", Type::Number},
    {"clock_skew", Type::String},
    {"min_remaining", Type::String},
    {"live_timeout", Type::String},
    {"lock_timeout", Type::String},
    {"emergency_window", Type::String},
};

constexpr Field kApiFields[] = {
    {"url", Type::String},
    {"ca_file", Type::String},
    {"token_file", Type::String},
    {"allow_plain_http", Type::Bool},
    {"connect_timeout", Type::String},
    {"total_timeout", Type::String},
};

constexpr Field kTopFields[] = {
    {"api", Type::Object, kApiFields},         {"concurrency", Type::Number},
    {"live_concurrency", Type::Number},        {"api_rate", Type::Number},
    {"targets", Type::Objects, kTargetFields},
};

std::string_view describe(Type type) {
  switch (type) {
    case Type::String:
      return "a string";
    case Type::Bool:
      return "true or false";
    case Type::Number:
      return "a number";
    case Type::Object:
      return "an object";
    case Type::Strings:
      return "a list of strings";
    case Type::Objects:
      return "a list of objects";
  }
  return "?";
}

std::string_view describe(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    default:
      return "null";
  }
}

bool has_type(const json& value, Type type) {
  switch (type) {
    case Type::String:
      return value.is_string();
    case Type::Bool:
      return value.is_boolean();
    case Type::Number:
      return value.is_number();
    case Type::Object:
      return value.is_object();
    case Type::Strings:
      return value.is_array() &&
             std::ranges::all_of(value, [](const json& item) { return item.is_string(); });
    case Type::Objects:
      return value.is_array();  // each item is checked (and named) on its own
  }
  return false;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Two edits catch a dropped, doubled or swapped letter ("nofity", "tokenfile")
// without offering an unrelated key.
std::string suggestion(std::string_view key, std::span<const Field> fields) {
  constexpr std::size_t kMaxEdits = 2;
  const Field* best = nullptr;
  std::size_t best_distance = kMaxEdits + 1;
  for (const Field& field : fields) {
    const std::size_t distance = edit_distance(key, field.key);
    if (distance < best_distance) {
      best = &field;
      best_distance = distance;
    }
  }
  return best ? fmt::format(" (did you mean \"{}\"?)", best->key) : "";
}

Result<void> check_object(const json& object, std::span<const Field> fields,
                          const std::string& path) {
  for (const auto& [key, value] : object.items()) {
    const std::string at = path.empty() ? key : path + "." + key;
    const auto field = std::ranges::find(fields, std::string_view(key), &Field::key);
    if (field == fields.end()) {
      return fail(ErrorKind::Usage, "{}: unknown key{}", at, suggestion(key, fields));
    }
    if (!has_type(value, field->type)) {
      return fail(ErrorKind::Usage, "{}: must be {}, not {}", at, describe(field->type),
                  describe(value));
    }
    if (field->type == Type::Object) {
      if (auto r = check_object(value, field->fields, at); !r) return r;
    }
    if (field->type == Type::Objects) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string item = fmt::format("{}[{}]", at, i);
        if (!value[i].is_object()) {
          return fail(ErrorKind::Usage, "{}: must be an object, not {}", item, describe(value[i]));
        }
        if (auto r = check_object(value[i], field->fields, item); !r) return r;
      }
    }
  }
  return {};
}

}  // namespace

Result<void> check_config_schema(const json& root) {
  return check_object(root, kTopFields, "");
}

}  // namespace certswap
