#include "rpc/pages.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace verity::rpc {

namespace fs = std::filesystem;

namespace {

Error bad_dir(const std::string& dir, const std::string& why) {
  return Error{"bad-pages-dir", "pages directory " + dir + ": " + why};
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string Pages::content_type_of(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},               {".svg", "image/svg+xml"},
      {".png", "image/png"},                       {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},       {".ico", "image/x-icon"},
  };
  for (const auto& [ext, type] : kTypes)
    if (ends_with(name, ext)) return std::string(type);
  return "application/octet-stream";
}

const std::vector<std::pair<std::string_view, std::string_view>>& Pages::security_headers() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kHeaders = {
      // Scripts of the node only; 'wasm-unsafe-eval' lets a page compile
      // WebAssembly (the worker page runs tasks) without allowing eval().
      // connect-src 'self' covers the node's WebSocket (ws: on the same host).
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
       "style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      // A new build of the node may change the pages: always revalidate.
      {"Cache-Control", "no-cache"},
  };
  return kHeaders;
}

Result<Pages> Pages::load(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return bad_dir(dir, "not a directory");
  Pages pages;
  pages.dir_ = dir;
  std::size_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return bad_dir(dir, ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return bad_dir(dir, ec.message());
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    if (pages.files_.size() >= kMaxFiles)
      return bad_dir(dir, "more than " + std::to_string(kMaxFiles) + " files (is it the right directory?)");
    const auto size = it->file_size(ec);
    if (ec) return bad_dir(dir, ec.message());
    total += size;
    if (total > kMaxTotalBytes)
      return bad_dir(dir, "more than " + std::to_string(kMaxTotalBytes) + " bytes (is it the right directory?)");
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in && !in.eof()) return bad_dir(dir, "cannot read " + it->path().string());
    const std::string rel = "/" + fs::relative(it->path(), dir, ec).generic_string();
    if (ec) return bad_dir(dir, ec.message());
    pages.files_.emplace(rel, Page{body.str(), content_type_of(rel)});
  }
  if (pages.files_.empty()) return bad_dir(dir, "no files");
  return pages;
}

const Page* Pages::find(std::string_view target) const {
  std::string path(target.substr(0, target.find('?')));
  if (path.empty()) return nullptr;
  // A folder's page is its index.html ("/worker", "/worker/").
  if (path.back() == '/') path.pop_back();
  auto it = files_.find(path);
  if (it == files_.end()) it = files_.find(path + "/index.html");
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace verity::rpc
