-- Test app: a callback that always fails. Composed after toneplay.lua under
-- one app id, it shows that an error in one callback stops nothing else.

function on_answer(sess)
  error("deliberate failure in on_answer of " .. sess.uuid)
end
