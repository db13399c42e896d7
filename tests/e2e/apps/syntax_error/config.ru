# frozen_string_literal: true

run(lambda do |env|
  [200, {}, [
  end end end
end)
