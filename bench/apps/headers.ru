# frozen_string_literal: true

# A response carrying 25 headers shaped like a Rails 7 page: the defaults Rails
# sets (security headers, cache-control, etag, request id, runtime, cookie) plus
# what a typical app adds. The Hash is built per request, as a framework does.
TEMPLATE = {
  'content-type' => 'text/html; charset=utf-8',
  'cache-control' => 'max-age=0, private, must-revalidate',
  'etag' => 'W/"5d41402abc4b2a76b9719d911017c592"',
  'x-frame-options' => 'SAMEORIGIN',
  'x-xss-protection' => '0',
  'x-content-type-options' => 'nosniff',
  'x-download-options' => 'noopen',
  'x-permitted-cross-domain-policies' => 'none',
  'referrer-policy' => 'strict-origin-when-cross-origin',
  'x-request-id' => '',
  'x-runtime' => '',
  'vary' => 'Accept, Accept-Encoding',
  'content-security-policy' => "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'",
  'strict-transport-security' => 'max-age=63072000; includeSubDomains',
  'set-cookie' => '_app_session=bm90LWEtcmVhbC1zZXNzaW9uLWNvb2tpZQ%3D%3D--0123456789abcdef; path=/; httponly; samesite=lax',
  'server-timing' => 'sql;dur=0.42, view;dur=1.37, total;dur=2.05',
  'permissions-policy' => 'camera=(), microphone=(), geolocation=()',
  'cross-origin-opener-policy' => 'same-origin',
  'cross-origin-resource-policy' => 'same-origin',
  'x-dns-prefetch-control' => 'off',
  'link' => '</assets/application-3f2a.css>; rel=preload; as=style',
  'last-modified' => 'Mon, 02 Jan 2023 15:04:05 GMT',
  'content-language' => 'en',
  'access-control-allow-origin' => 'https://example.com',
  'x-robots-tag' => 'noindex'
}.freeze
raise "expected 25 headers, got #{TEMPLATE.size}" unless TEMPLATE.size == 25

BODY = "<!DOCTYPE html><html><head><title>bench</title></head><body><p>hello</p></body></html>\n"

run lambda { |_env|
  headers = TEMPLATE.dup
  headers['x-request-id'] = format('%032x', rand(1 << 128))
  headers['x-runtime'] = '0.001234'
  [200, headers, [BODY]]
}
