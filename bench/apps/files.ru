# frozen_string_literal: true

# Rack::Files over the directory run.sh generates (1k.bin, 1m.bin); nginx serves
# the same directory for the reference numbers.
root = ENV.fetch('BENCH_FILES_DIR') { raise 'BENCH_FILES_DIR is not set' }
run Rack::Files.new(root)
