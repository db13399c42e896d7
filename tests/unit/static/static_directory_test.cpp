#include "hyperion/static/static_directory.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hyperion/static/request_path.hpp"

using namespace hyperion::static_files;
using namespace std::chrono_literals;
using Kind = StaticDirectory::LookupKind;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hyperion-static-dir-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  std::string write(const std::string& name, const std::string& content) const {
    const std::string full = file(name);
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    std::ofstream(full, std::ios::binary | std::ios::trunc) << content;
    return full;
  }
  void mkdir(const std::string& name) const { std::filesystem::create_directories(file(name)); }
  void symlink(const std::string& target, const std::string& name) const {
    ASSERT_EQ(::symlink(target.c_str(), file(name).c_str()), 0) << name;
  }

 private:
  std::string path_;
};

// A public/ directory inside the temp dir, so "outside" files have somewhere to live.
struct Site {
  TempDir temp;
  std::string root = temp.file("public");
  Site() { temp.mkdir("public"); }
  std::string write(const std::string& name, const std::string& content) const {
    return temp.write("public/" + name, content);
  }
};

StaticDirectory loadOrDie(const std::string& dir, bool immutable = true, std::size_t max_file_bytes = 1u << 20) {
  auto loaded = StaticDirectory::load(dir, immutable, max_file_bytes);
  EXPECT_TRUE(loaded) << loaded.error();
  return std::move(loaded.value());
}

std::string bodyAt(const StaticDirectory& directory, std::string_view path) {
  auto lookup = directory.find(path);
  if (lookup.kind != Kind::Found) return "<not found>";
  return lookup.file->body;
}

}  // namespace

// ---- normalizeRequestPath ---------------------------------------------------

TEST(StaticRequestPath, DecodesAndCollapses) {
  auto n = normalizeRequestPath("/a//b/./c%20d.txt");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->key, "/a/b/c d.txt");
  EXPECT_FALSE(n->trailing_slash);
  n = normalizeRequestPath("/docs/");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->key, "/docs");
  EXPECT_TRUE(n->trailing_slash);
  n = normalizeRequestPath("/");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->key, "/");
  EXPECT_TRUE(n->trailing_slash);
  n = normalizeRequestPath("///");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->key, "/");
  // An encoded slash becomes a separator once decoded.
  n = normalizeRequestPath("/a%2Fb");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->key, "/a/b");
}

TEST(StaticRequestPath, DecodesOnlyOnce) {
  auto n = normalizeRequestPath("/%252e%252e/x");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->key, "/%2e%2e/x");  // a literal file name, not a parent reference
}

TEST(StaticRequestPath, RejectsTraversalAndJunk) {
  for (std::string_view raw : {"/../etc/passwd",
                               "/..",
                               "/a/../b",
                               "/a/..",
                               "/%2e%2e/x",
                               "/%2E%2E/x",
                               "/.%2e/x",
                               "/%2e./x",
                               "/a/%2E%2E/%2e%2e/x",
                               "/..%2f..%2fetc/passwd",
                               "/..%2F",
                               "/a\\..\\b",
                               "/a%5c..%5cb",
                               "/a%5Cb",
                               "/a%00.txt",
                               "/a%0a",
                               "/%7f",
                               "/bad%zz",
                               "/bad%2",
                               "/bad%",
                               "",
                               "a.txt",
                               "*",
                               "..",
                               "\\a"}) {
    EXPECT_FALSE(normalizeRequestPath(raw)) << raw;
  }
}

TEST(StaticRequestPath, DotsInNamesAreFine) {
  for (std::string_view raw : {"/...", "/..a", "/a..", "/a..b/c", "/.well-known/x", "/.hidden"}) {
    EXPECT_TRUE(normalizeRequestPath(raw)) << raw;
  }
}

// ---- StaticDirectory --------------------------------------------------------

TEST(StaticDirectory, WalksAndServesNestedFiles) {
  Site site;
  site.write("robots.txt", "User-agent: *");
  site.write("css/app.css", "body{}");
  site.write("js/vendor/lib.js", "lib()");
  auto dir = loadOrDie(site.root);
  EXPECT_EQ(dir.stats().files, 3u);
  EXPECT_EQ(dir.stats().bytes, 13u + 6u + 5u);
  EXPECT_EQ(dir.stats().skipped, 0u);
  EXPECT_EQ(dir.stats().dir, std::filesystem::canonical(site.root).string());
  EXPECT_GE(dir.stats().ms, 0.0);
  EXPECT_EQ(bodyAt(dir, "/robots.txt"), "User-agent: *");
  EXPECT_EQ(bodyAt(dir, "/css/app.css"), "body{}");
  EXPECT_EQ(bodyAt(dir, "/js/vendor/lib.js"), "lib()");
  EXPECT_EQ(bodyAt(dir, "//js//vendor/./lib.js"), "lib()");

  auto lookup = dir.find("/css/app.css");
  ASSERT_EQ(lookup.kind, Kind::Found);
  EXPECT_TRUE(lookup.file->immutable);
  EXPECT_EQ(lookup.file->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(dir.find("/missing.css").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/CSS/app.css").kind, Kind::NotFound);  // keys are case-sensitive, like the filesystem
}

TEST(StaticDirectory, PercentEncodedNames) {
  Site site;
  site.write("my file.txt", "spaces");
  site.write("caf\xc3\xa9.txt", "utf8");
  auto dir = loadOrDie(site.root);
  EXPECT_EQ(bodyAt(dir, "/my%20file.txt"), "spaces");
  EXPECT_EQ(bodyAt(dir, "/caf%C3%A9.txt"), "utf8");
}

TEST(StaticDirectory, IndexHtmlForDirectories) {
  Site site;
  site.write("index.html", "home");
  site.write("docs/index.html", "docs home");
  site.write("empty/readme.txt", "no index here");
  auto dir = loadOrDie(site.root);
  EXPECT_EQ(bodyAt(dir, "/"), "home");
  EXPECT_EQ(bodyAt(dir, "/docs/"), "docs home");
  EXPECT_EQ(bodyAt(dir, "/docs"), "docs home");
  EXPECT_EQ(bodyAt(dir, "/index.html"), "home");
  // Directories themselves are never served.
  EXPECT_EQ(dir.find("/empty").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/empty/").kind, Kind::NotFound);
  // A trailing slash after a file name does not name the file.
  EXPECT_EQ(dir.find("/index.html/").kind, Kind::NotFound);
}

TEST(StaticDirectory, RootWithoutIndexIsNotFound) {
  Site site;
  site.write("a.txt", "a");
  auto dir = loadOrDie(site.root);
  EXPECT_EQ(dir.find("/").kind, Kind::NotFound);
}

TEST(StaticDirectory, TraversalAttemptsAreRejected) {
  Site site;
  site.write("a/b.txt", "inside");
  site.temp.write("secret.txt", "outside");
  auto dir = loadOrDie(site.root);
  for (std::string_view raw :
       {"/../etc/passwd", "/../secret.txt", "/%2e%2e/x", "/%2e%2e/secret.txt", "/a/%2E%2E/%2e%2e/x",
        "/a/%2E%2E/%2e%2e/secret.txt", "/..%2fsecret.txt", "/a/..%2f..%2fsecret.txt", "/a\\..\\..\\secret.txt",
        "/a%5c..%5c..%5csecret.txt", "/a/b.txt%00.png", "/a/.%2e/b.txt"}) {
    auto lookup = dir.find(raw);
    EXPECT_EQ(lookup.kind, Kind::Rejected) << raw;
    EXPECT_EQ(lookup.file, nullptr) << raw;
  }
  EXPECT_EQ(bodyAt(dir, "/a/b.txt"), "inside");
}

TEST(StaticDirectory, SymlinkOutsideIsNotLoaded) {
  Site site;
  site.write("ok.txt", "ok");
  const auto outside = site.temp.write("secret.txt", "outside");
  site.temp.write("elsewhere/x.txt", "outside dir");
  site.temp.symlink(outside, "public/leak.txt");
  site.temp.symlink("../secret.txt", "public/relative-leak.txt");
  site.temp.symlink(site.temp.file("elsewhere"), "public/linked-dir");
  site.temp.symlink(site.temp.file("nothing-here"), "public/dangling.txt");
  auto dir = loadOrDie(site.root);
  EXPECT_EQ(dir.find("/leak.txt").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/relative-leak.txt").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/linked-dir/x.txt").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/dangling.txt").kind, Kind::NotFound);
  EXPECT_EQ(dir.stats().files, 1u);
  EXPECT_GE(dir.stats().skipped, 3u);
}

TEST(StaticDirectory, SymlinkInsideIsServedWithTheLinkNamesType) {
  Site site;
  site.write("build/app.3f2a", "bundle()");
  site.temp.symlink("build/app.3f2a", "public/app.js");
  auto dir = loadOrDie(site.root);
  auto lookup = dir.find("/app.js");
  ASSERT_EQ(lookup.kind, Kind::Found);
  EXPECT_EQ(lookup.file->body, "bundle()");
  EXPECT_EQ(lookup.file->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(bodyAt(dir, "/build/app.3f2a"), "bundle()");
}

TEST(StaticDirectory, SymlinkedRootIsResolved) {
  Site site;
  site.write("a.txt", "via link");
  site.temp.symlink(site.root, "public-link");
  auto dir = loadOrDie(site.temp.file("public-link"));
  EXPECT_EQ(bodyAt(dir, "/a.txt"), "via link");
}

TEST(StaticDirectory, CompressedVariantsAreAttached) {
  Site site;
  site.write("app.css", "body{}");
  site.write("app.css.gz", "GZ");
  site.write("app.css.br", "BR");
  site.write("only.gz", "a standalone archive");
  site.write("data.json.br", "BR-ONLY");
  auto dir = loadOrDie(site.root);
  auto lookup = dir.find("/app.css");
  ASSERT_EQ(lookup.kind, Kind::Found);
  ASSERT_TRUE(lookup.file->gzip);
  ASSERT_TRUE(lookup.file->brotli);
  EXPECT_EQ(lookup.file->gzip->body, "GZ");
  EXPECT_EQ(lookup.file->brotli->body, "BR");
  // Siblings of an existing base are variants, not entries of their own.
  EXPECT_EQ(dir.find("/app.css.gz").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/app.css.br").kind, Kind::NotFound);
  // Without a base file they are ordinary files.
  EXPECT_EQ(bodyAt(dir, "/only.gz"), "a standalone archive");
  EXPECT_EQ(dir.find("/only.gz").file->content_type, "application/gzip");
  EXPECT_EQ(bodyAt(dir, "/data.json.br"), "BR-ONLY");
  EXPECT_EQ(dir.stats().files, 3u);
  EXPECT_EQ(dir.stats().bytes, 6u + 2u + 2u + 20u + 7u);
}

TEST(StaticDirectory, VariantPointingOutsideIsIgnored) {
  Site site;
  site.write("app.css", "body{}");
  const auto outside = site.temp.write("secret.gz", "SECRET");
  site.temp.symlink(outside, "public/app.css.gz");
  auto dir = loadOrDie(site.root);
  auto lookup = dir.find("/app.css");
  ASSERT_EQ(lookup.kind, Kind::Found);
  EXPECT_FALSE(lookup.file->gzip);
}

TEST(StaticDirectory, TooBigFilesAreSkipped) {
  Site site;
  site.write("small.txt", "small");
  site.write("big.bin", std::string(100, 'x'));
  auto dir = loadOrDie(site.root, true, 50);
  EXPECT_EQ(dir.stats().files, 1u);
  EXPECT_EQ(dir.stats().skipped, 1u);
  EXPECT_EQ(dir.find("/big.bin").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/small.txt").kind, Kind::Found);
}

TEST(StaticDirectory, SpecialFilesAreSkipped) {
  Site site;
  site.write("a.txt", "a");
  ASSERT_EQ(::mkfifo((site.root + "/pipe").c_str(), 0600), 0);
  auto dir = loadOrDie(site.root);
  EXPECT_EQ(dir.stats().files, 1u);
  EXPECT_EQ(dir.find("/pipe").kind, Kind::NotFound);
}

TEST(StaticDirectory, MissingOrNonDirectoryRootIsAnError) {
  TempDir temp;
  EXPECT_FALSE(StaticDirectory::load(temp.file("nope"), true, 1024));
  EXPECT_FALSE(StaticDirectory::load(temp.write("file.txt", "x"), true, 1024));
}

TEST(StaticDirectory, ImmutableNeverLooksAtTheDiskAgain) {
  Site site;
  const auto path = site.write("a.txt", "boot");
  auto dir = loadOrDie(site.root, /*immutable=*/true);
  ::unlink(path.c_str());
  site.write("new.txt", "after boot");
  EXPECT_EQ(bodyAt(dir, "/a.txt"), "boot");
  EXPECT_EQ(dir.find("/new.txt").kind, Kind::NotFound);
}

namespace {

struct LiveSite : Site {
  std::chrono::steady_clock::time_point now{std::chrono::seconds(100)};
  StaticDirectory load() {
    StaticDirectory::Options options;
    options.immutable = false;
    options.max_file_bytes = 1024;
    options.recheck_interval = 5000ms;
    options.now = [this] { return now; };
    auto loaded = StaticDirectory::load(root, std::move(options));
    EXPECT_TRUE(loaded) << loaded.error();
    return std::move(loaded.value());
  }
};

}  // namespace

TEST(StaticDirectory, MutableRechecksAfterTheInterval) {
  LiveSite site;
  site.write("a.txt", "one");
  auto dir = site.load();
  auto original = dir.find("/a.txt").file;
  ASSERT_TRUE(original);
  EXPECT_FALSE(original->immutable);
  site.write("a.txt", "two, longer");
  site.now += 5000ms;
  EXPECT_EQ(dir.find("/a.txt").file.get(), original.get());
  site.now += 1ms;
  EXPECT_EQ(bodyAt(dir, "/a.txt"), "two, longer");
  EXPECT_EQ(original->body, "one");
}

TEST(StaticDirectory, MutableDropsVanishedFilesAndFindsNewOnes) {
  LiveSite site;
  const auto path = site.write("a.txt", "gone soon");
  auto dir = site.load();
  ::unlink(path.c_str());
  site.now += 6s;
  EXPECT_EQ(dir.find("/a.txt").kind, Kind::NotFound);
  EXPECT_EQ(dir.size(), 0u);
  site.write("fresh/new.txt", "created later");
  EXPECT_EQ(bodyAt(dir, "/fresh/new.txt"), "created later");
  site.write("fresh/index.html", "fresh index");
  EXPECT_EQ(bodyAt(dir, "/fresh/"), "fresh index");
}

TEST(StaticDirectory, MutableStillRefusesToLeave) {
  LiveSite site;
  site.write("a.txt", "a");
  site.write("app.css", "body{}");
  site.write("app.css.gz", "GZ");
  auto dir = site.load();
  const auto outside = site.temp.write("secret.txt", "outside");
  site.temp.symlink(outside, "public/leak.txt");
  EXPECT_EQ(dir.find("/leak.txt").kind, Kind::NotFound);
  EXPECT_EQ(dir.find("/../secret.txt").kind, Kind::Rejected);
  EXPECT_EQ(dir.find("/app.css.gz").kind, Kind::NotFound);
  // A file swapped for a symlink to the outside is dropped at its recheck.
  ::unlink((site.root + "/a.txt").c_str());
  site.temp.symlink(outside, "public/a.txt");
  site.now += 6s;
  EXPECT_EQ(dir.find("/a.txt").kind, Kind::NotFound);
}

TEST(StaticDirectory, MutablePicksUpNewVariants) {
  LiveSite site;
  site.write("app.css", "body{}");
  auto dir = site.load();
  EXPECT_FALSE(dir.find("/app.css").file->gzip);
  site.write("app.css.gz", "GZ");
  site.now += 6s;
  auto file = dir.find("/app.css").file;
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->gzip);
  EXPECT_EQ(file->gzip->body, "GZ");
}
