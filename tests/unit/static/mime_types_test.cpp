#include "hyperion/static/mime_types.hpp"

#include <gtest/gtest.h>

using hyperion::static_files::mimeTypeFor;

TEST(MimeTypes, CommonWebTypes) {
  EXPECT_EQ(mimeTypeFor("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/a.htm"), "text/html; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/css/app.css"), "text/css; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/js/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/js/app.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/data.json"), "application/json; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/app.js.map"), "application/json; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/robots.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/feed.xml"), "application/xml; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/logo.svg"), "image/svg+xml; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/data.csv"), "text/csv; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/README.md"), "text/markdown; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/c.yaml"), "application/yaml; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/c.yml"), "application/yaml; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/site.webmanifest"), "application/manifest+json; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/cache.manifest"), "text/cache-manifest; charset=utf-8");
}

TEST(MimeTypes, BinaryTypesHaveNoCharset) {
  EXPECT_EQ(mimeTypeFor("a.png"), "image/png");
  EXPECT_EQ(mimeTypeFor("a.jpg"), "image/jpeg");
  EXPECT_EQ(mimeTypeFor("a.jpeg"), "image/jpeg");
  EXPECT_EQ(mimeTypeFor("a.gif"), "image/gif");
  EXPECT_EQ(mimeTypeFor("a.webp"), "image/webp");
  EXPECT_EQ(mimeTypeFor("a.avif"), "image/avif");
  EXPECT_EQ(mimeTypeFor("favicon.ico"), "image/vnd.microsoft.icon");
  EXPECT_EQ(mimeTypeFor("f.woff"), "font/woff");
  EXPECT_EQ(mimeTypeFor("f.woff2"), "font/woff2");
  EXPECT_EQ(mimeTypeFor("f.ttf"), "font/ttf");
  EXPECT_EQ(mimeTypeFor("f.otf"), "font/otf");
  EXPECT_EQ(mimeTypeFor("f.eot"), "application/vnd.ms-fontobject");
  EXPECT_EQ(mimeTypeFor("d.pdf"), "application/pdf");
  EXPECT_EQ(mimeTypeFor("d.zip"), "application/zip");
  EXPECT_EQ(mimeTypeFor("d.gz"), "application/gzip");
  EXPECT_EQ(mimeTypeFor("d.br"), "application/x-brotli");
  EXPECT_EQ(mimeTypeFor("m.wasm"), "application/wasm");
  EXPECT_EQ(mimeTypeFor("v.mp4"), "video/mp4");
  EXPECT_EQ(mimeTypeFor("v.webm"), "video/webm");
  EXPECT_EQ(mimeTypeFor("s.mp3"), "audio/mpeg");
  EXPECT_EQ(mimeTypeFor("s.ogg"), "audio/ogg");
  EXPECT_EQ(mimeTypeFor("s.wav"), "audio/wav");
  for (auto type : {mimeTypeFor("a.png"), mimeTypeFor("v.mp4"), mimeTypeFor("m.wasm")}) {
    EXPECT_EQ(type.find("charset"), std::string_view::npos) << type;
  }
}

TEST(MimeTypes, ExtensionIsCaseInsensitive) {
  EXPECT_EQ(mimeTypeFor("/INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(mimeTypeFor("/Photo.JpG"), "image/jpeg");
  EXPECT_EQ(mimeTypeFor("/font.WOFF2"), "font/woff2");
}

TEST(MimeTypes, OnlyTheLastExtensionOfTheLastSegmentCounts) {
  EXPECT_EQ(mimeTypeFor("/app.css.gz"), "application/gzip");
  EXPECT_EQ(mimeTypeFor("/archive.tar.gz"), "application/gzip");
  // A dot in a directory name is not an extension of the file.
  EXPECT_EQ(mimeTypeFor("/v1.2/LICENSE"), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/dir.html/file"), "application/octet-stream");
}

TEST(MimeTypes, UnknownAndMissingExtensionsAreOctetStream) {
  EXPECT_EQ(mimeTypeFor(""), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/"), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/Makefile"), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/file."), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/.htaccess"), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/x.unknownext"), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/x.averyveryverylongextension"), "application/octet-stream");
  EXPECT_EQ(mimeTypeFor("/x.exe"), "application/octet-stream");
}

TEST(MimeTypes, HiddenFileWithExtension) { EXPECT_EQ(mimeTypeFor("/.config.json"), "application/json; charset=utf-8"); }
