# frozen_string_literal: true

# Rack hello: the smallest app, as in shared/notes/performance-facts.md. Also used
# by the Connection: close and 256-connection workloads.
run ->(_env) { [200, { 'content-type' => 'text/plain' }, ['hello']] }
