"""The Lua scripts the broker runs (``EVALSHA``; Redis 6.2 or later).

Each script is one round trip and runs alone inside Redis, which is what
makes the shared rate exact: bookings are served one at a time, in the
order the workers ask, so booking order is queue order.

Keys a script reads besides its ``KEYS`` are a campaign's (its ``stop``
flag, its outcomes stream), named from a prefix and the campaign in the
entry; so the broker needs one Redis, not a Cluster.

Times are whole microseconds. ``now`` may be passed in (tests do, to
control time); empty, the script reads Redis ``TIME``, the one clock every
worker on every host shares.
"""

from __future__ import annotations

#: GCRA by booking (see ``gcra.py``, its model in Python). Returns the wait.
_BOOK = """
local function clock(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function book(key, cost, rate, burst, now)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + math.ceil(cost * 1000000 / rate)
  local wait = new_tat - math.floor(burst * 1000000 / rate) - now
  if wait < 0 then wait = 0 end
  redis.call('SET', key, string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 60000)
  return wait
end
"""

#: KEYS: TAT key. ARGV: cost, rate, burst, now. A resend's tokens, booked again.
BOOK = _BOOK + """
redis.replicate_commands()
return book(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), clock(ARGV[4]))
"""

#: KEYS: plan stream, TAT key. ARGV: group, consumer, rate, burst, campaign key prefix, now.
#: Takes the next entry for this consumer and books its recipients: {id, fields, wait_us},
#: wait -1 when its campaign is stopped (not booked: it is skipped), nil when there is none.
TAKE = _BOOK + """
redis.replicate_commands()
local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
if not got then return false end
local entry = got[1][2][1]
local fields = entry[2]
local cost, campaign = 1, ''
for i = 1, #fields, 2 do
  if fields[i] == 'n' then cost = tonumber(fields[i + 1]) elseif fields[i] == 'c' then campaign = fields[i + 1] end
end
if redis.call('HGET', ARGV[5] .. campaign, 'stop') == '1' then
  return {entry[1], fields, -1}
end
return {entry[1], fields, book(KEYS[2], cost, tonumber(ARGV[3]), tonumber(ARGV[4]), clock(ARGV[6]))}
"""

#: KEYS: plan stream, campaign meta hash. ARGV: seq, then the entry's field/value pairs.
#: XADD and the high-water mark in one step; returns the stream's length (flow control).
#: A seq at or below the mark was added already (a retry after a lost reply): not again.
SUBMIT = """
local hwm = tonumber(redis.call('HGET', KEYS[2], 'hwm') or '-1')
if tonumber(ARGV[1]) > hwm then
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
  redis.call('HSET', KEYS[2], 'hwm', ARGV[1])
end
return redis.call('XLEN', KEYS[1])
"""

#: KEYS: plan stream, outcomes stream. ARGV: group, id, then the outcome's field/value pairs.
#: The outcome is published, acknowledged and deleted at once, or not at all; only
#: the first to finish an entry publishes (a reclaimed entry may be finished twice).
FINISH = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"""

#: KEYS: plan stream. ARGV: group, consumer, id. Renews the lease (resets the idle
#: time, counts no delivery) only while this consumer still holds the entry: 1, else 0.
RENEW = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

#: KEYS: plan stream, dead-letter stream. ARGV: group, consumer, min idle ms, count,
#: max deliveries, campaign key prefix. Takes over entries whose lease ran out:
#: {id, fields, deliveries} each. One delivered more than max deliveries goes to the
#: dead-letter stream instead, and its campaign is told it is unknown.
RECLAIM = """
local got = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(got[2]) do
  local id, fields = entry[1], entry[2]
  if not fields or fields == false then
    redis.call('XACK', KEYS[1], ARGV[1], id)
  else
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local count = p[1] and p[1][4] or 1
    if count > tonumber(ARGV[5]) then
      local campaign, seq = '', ''
      for i = 1, #fields, 2 do
        if fields[i] == 'c' then campaign = fields[i + 1] elseif fields[i] == 's' then seq = fields[i + 1] end
      end
      redis.call('XADD', KEYS[2], '*', 'id', id, 'deliveries', count, unpack(fields))
      redis.call('XADD', ARGV[6] .. campaign .. ':out', '*', 'k', 'result', 's', seq, 'st', 'unknown',
                 'code', 'dead_letter', 'text', 'delivered ' .. count .. ' times without an outcome', 'a', 0)
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
    else
      table.insert(out, {id, fields, count})
    end
  end
end
return out
"""
