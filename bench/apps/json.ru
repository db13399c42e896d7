# frozen_string_literal: true

# A JSON document of 50 keys, built and serialised on every request.
require 'json'

KEYS = Array.new(50) { |i| "key_#{i}".freeze }.freeze

run lambda { |_env|
  doc = {}
  KEYS.each_with_index { |key, i| doc[key] = i.even? ? i * 1000 : "value number #{i}" }
  [200, { 'content-type' => 'application/json' }, [JSON.generate(doc)]]
}
