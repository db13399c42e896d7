# Reports whether Bundler set up the load path from the Gemfile beside it.
run lambda { |_env|
  gems = Gem.loaded_specs.keys.sort.join(',')
  [200, { 'content-type' => 'text/plain' }, ["bundler=#{defined?(Bundler.setup) ? 'yes' : 'no'} gems=#{gems}"]]
}
