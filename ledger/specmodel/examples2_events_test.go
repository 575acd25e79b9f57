package specmodel

// The event streams of /work/shared/spec/worked-examples-2.md, copied from
// that page (examples 1 to 15; 16 is in placement_test.go).

// 1. A hold granted, then converted by an order
const example2_1 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-1","channel":"web","qty":3,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"o1","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","order_id":"W-1","qty":3,"hold_id":"H-1"}
`

// 2. Two checkouts race for the last units
const example2_2 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":5}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-1","channel":"web","qty":4,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h2","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-2","channel":"web","qty":2,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h3","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-3","channel":"web","qty":2,"allow_partial":true,"expires_at":"2026-11-27T10:15:00Z"}
`

// 3. Holds expire on clock events
const example2_3 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
{"event_id":"clock/0/1795773600000","type":"clock","occurred_at":"2026-11-27T10:00:00Z"}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:10Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:20Z","sku":"MUG","location":"dc","qty":4}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:01:00Z","sku":"TEE","hold_id":"H-1","channel":"web","qty":2,"expires_at":"2026-11-27T10:05:00Z"}
{"event_id":"h2","type":"hold","occurred_at":"2026-11-27T10:02:00Z","sku":"TEE","hold_id":"H-2","channel":"amazon","qty":3,"location":"dc","expires_at":"2026-11-27T10:10:00Z"}
{"event_id":"clock/0/1795773960000","type":"clock","occurred_at":"2026-11-27T10:06:00Z"}
{"event_id":"clock/0/1795773960000","type":"clock","occurred_at":"2026-11-27T10:06:00Z"}
{"event_id":"clock/0/1795773840000","type":"clock","occurred_at":"2026-11-27T10:04:00Z"}
{"event_id":"clock/0/1795774800000","type":"clock","occurred_at":"2026-11-27T10:20:00Z"}
`

// 4. A hold refused because the clock has passed its expiry
const example2_4 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"clock/0/1795775400000","type":"clock","occurred_at":"2026-11-27T10:30:00Z"}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:30:05Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-1","channel":"web","qty":1,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h2","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-2","channel":"web","qty":1,"expires_at":"2026-11-27T10:45:00Z"}
{"event_id":"h3","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-3","channel":"web","qty":1,"expires_at":"2026-12-05T10:00:00Z"}
`

// 5. A hold at a location
const example2_5 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"store","qty":2}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-1","channel":"web","qty":3,"location":"store","expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h2","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-2","channel":"web","qty":3,"location":"store","allow_partial":true,"expires_at":"2026-11-27T10:15:00Z"}
`

// 6. Holds refused at a location, a hold on a channel with no policy
const example2_6 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"store","qty":2}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-1","channel":"amazon","qty":1,"location":"store","allow_partial":true,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h2","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-2","channel":"web","qty":1,"location":"store-9","allow_partial":true,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h3","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-1","channel":"amazon","qty":1,"location":"dc","expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h4","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H-4","channel":"outlet","qty":5,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"h5","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","hold_id":"H/5","channel":"web","qty":1,"expires_at":"2026-11-27T10:15:00Z"}
`

// 7. Unassigned per channel
const example2_7 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"p-pos","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"pos","locations":["store"],"buffer":0,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"store","qty":3}
{"event_id":"o1","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"amazon","order_id":"A-1","qty":4}
{"event_id":"o2","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","order_id":"W-1","qty":2}
{"event_id":"s1","type":"shipment","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","order_id":"A-1","location":"dc","qty":4}
`

// 8. A threshold ends a channel's listing
const example2_8 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-ebay","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"ebay","locations":["dc"],"buffer":0,"share_pct":100,"end_at":3}
{"event_id":"p-ebay-uk","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"ebay-uk","locations":["dc"],"buffer":0,"share_pct":100,"max_qty":2,"end_at":2}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","location":"dc","qty":5}
{"event_id":"o1","type":"order","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","channel":"web","order_id":"W-1","qty":2,"location":"dc"}
{"event_id":"h1","type":"hold","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","hold_id":"H-1","channel":"ebay","qty":1,"expires_at":"2026-11-27T10:15:00Z"}
`

// 9. Per-SKU overrides: a channel excluded, a buffer trimmed, a channel added
const example2_9 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":3,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":10}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","location":"dc","qty":10}
{"event_id":"x1","type":"sku_channel_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"amazon","exclude":true}
{"event_id":"x2","type":"sku_channel_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","channel":"web","buffer":1}
{"event_id":"x3","type":"sku_channel_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","channel":"wholesale","locations":["dc","store"],"share_pct":50}
{"event_id":"x4","type":"sku_channel_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"amazon"}
{"event_id":"x5","type":"sku_channel_policy","occurred_at":"2026-11-27T10:00:00Z","sku":"CAP","channel":"web","share_pct":50}
`

// 10. A 6-pack listing, an order placed on it, a listing removed
const example2_10 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"p-amz","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":14}
{"event_id":"l1","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","listing_sku":"TEE-6PK","units":6}
{"event_id":"l2","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"amazon","listing_sku":"AMZ-TEE"}
{"event_id":"o1","type":"order","sku":"TEE","occurred_at":"2026-11-27T10:00:00Z","listing_sku":"TEE-6PK","channel":"web","order_id":"W-7","qty":6}
{"event_id":"l3","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"amazon","listing_sku":"AMZ-TEE","active":false}
{"event_id":"o2","type":"order","occurred_at":"2026-11-27T10:00:00Z","listing_sku":"TEE-6PK","channel":"web","order_id":"W-8","qty":1}
`

// 11. A listing moves to another SKU
const example2_11 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","location":"dc","qty":14}
{"event_id":"r2","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","location":"dc","qty":9}
{"event_id":"l1","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","listing_sku":"GIFT-SET"}
{"event_id":"l3","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","listing_sku":"GIFT-SET","active":false}
{"event_id":"l4","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"MUG","channel":"web","listing_sku":"GIFT-SET","units":2}
{"event_id":"o1","type":"order","sku":"MUG","occurred_at":"2026-11-27T10:00:00Z","listing_sku":"GIFT-SET","channel":"web","order_id":"W-9","qty":2}
{"event_id":"l6","type":"listing","occurred_at":"2026-11-27T10:00:00Z","sku":"TEE","channel":"web","listing_sku":"TEE-GIFT","active":false}
`

// 12. A transfer closed short
const example2_12 = `
{"event_id":"r1","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","location":"dc","qty":20}
{"event_id":"t1","type":"transfer_out","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1","location":"dc","to_location":"store","qty":8}
{"event_id":"t2","type":"transfer_in","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1","qty":5}
{"event_id":"tc","type":"transfer_closed","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1"}
{"event_id":"t3","type":"transfer_in","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1","qty":2}
{"event_id":"tc2","type":"transfer_closed","occurred_at":"2026-11-27T10:00:00Z","sku":"BAG","transfer_id":"T-1"}
`

// 13. Reorder by sales velocity, before any clock: a fast mover, a slow one
const example2_13 = `
{"event_id":"f0","type":"sku_policy","occurred_at":"2026-11-20T08:00:00Z","sku":"FAST","safety_stock":{},"lead_time_days":7}
{"event_id":"f1","type":"receipt","occurred_at":"2026-11-20T08:00:00Z","sku":"FAST","location":"store","qty":40}
{"event_id":"f2","type":"pos_sale","occurred_at":"2026-11-20T12:00:00Z","sku":"FAST","channel":"pos","location":"store","qty":10}
{"event_id":"f3","type":"pos_sale","occurred_at":"2026-11-22T12:00:00Z","sku":"FAST","channel":"pos","location":"store","qty":10}
{"event_id":"f4","type":"pos_sale","occurred_at":"2026-11-25T12:00:00Z","sku":"FAST","channel":"pos","location":"store","qty":13}
{"event_id":"s0","type":"sku_policy","occurred_at":"2026-10-01T08:00:00Z","sku":"SLOW","safety_stock":{},"lead_time_days":7}
{"event_id":"s1","type":"receipt","occurred_at":"2026-10-01T08:00:00Z","sku":"SLOW","location":"store","qty":40}
{"event_id":"s2","type":"pos_sale","occurred_at":"2026-10-02T12:00:00Z","sku":"SLOW","channel":"pos","location":"store","qty":5}
{"event_id":"s3","type":"pos_sale","occurred_at":"2026-11-10T12:00:00Z","sku":"SLOW","channel":"pos","location":"store","qty":1}
{"event_id":"s4","type":"pos_sale","occurred_at":"2026-11-27T12:00:00Z","sku":"SLOW","channel":"pos","location":"store","qty":2}
{"event_id":"s5","type":"pos_sale","occurred_at":"2026-10-20T12:00:00Z","sku":"SLOW","channel":"pos","location":"store","qty":3}
`

// 14. The sales window follows the partition's clock
const example2_14 = `
{"event_id":"clock/0/1793523600000","type":"clock","occurred_at":"2026-11-01T09:00:00Z"}
{"event_id":"s0","type":"sku_policy","occurred_at":"2026-11-01T09:00:01Z","sku":"SLOW","safety_stock":{},"lead_time_days":7}
{"event_id":"s1","type":"receipt","occurred_at":"2026-11-01T09:00:02Z","sku":"SLOW","location":"store","qty":40}
{"event_id":"s2","type":"pos_sale","occurred_at":"2026-11-02T09:30:00Z","sku":"SLOW","channel":"pos","location":"store","qty":5}
{"event_id":"clock/0/1794312000000","type":"clock","occurred_at":"2026-11-10T12:00:00Z"}
{"event_id":"s3","type":"pos_sale","occurred_at":"2026-11-10T12:00:00Z","sku":"SLOW","channel":"pos","location":"store","qty":1}
{"event_id":"clock/0/1795953600000","type":"clock","occurred_at":"2026-11-29T12:00:00Z"}
{"event_id":"s4","type":"pos_sale","occurred_at":"2026-11-29T12:00:01Z","sku":"SLOW","channel":"pos","location":"store","qty":2}
{"event_id":"s5","type":"pos_sale","occurred_at":"2026-10-20T12:00:00Z","sku":"SLOW","channel":"pos","location":"store","qty":3}
`

// 15. Stock alerts look past holds
const example2_15 = `
{"event_id":"p-web","type":"channel_policy","occurred_at":"2026-11-27T10:00:00Z","channel":"web","locations":[],"buffer":0,"share_pct":100}
{"event_id":"clock/0/1795773600000","type":"clock","occurred_at":"2026-11-27T10:00:00Z"}
{"event_id":"c0","type":"sku_policy","occurred_at":"2026-11-27T10:00:05Z","sku":"CAP","safety_stock":{},"reorder_point":5,"lead_time_days":14}
{"event_id":"c1","type":"receipt","occurred_at":"2026-11-27T10:00:10Z","sku":"CAP","location":"dc","qty":12}
{"event_id":"c2","type":"hold","occurred_at":"2026-11-27T10:01:00Z","sku":"CAP","hold_id":"H-1","channel":"web","qty":8,"expires_at":"2026-11-27T10:15:00Z"}
{"event_id":"c3","type":"order","occurred_at":"2026-11-27T10:02:00Z","sku":"CAP","channel":"web","order_id":"W-1","qty":1}
{"event_id":"c4","type":"hold","occurred_at":"2026-11-27T10:03:00Z","sku":"CAP","hold_id":"H-2","channel":"web","qty":2,"expires_at":"2026-11-27T10:05:00Z"}
{"event_id":"c5","type":"order","occurred_at":"2026-11-27T10:04:00Z","sku":"CAP","channel":"web","order_id":"W-2","qty":8,"hold_id":"H-1"}
{"event_id":"clock/0/1795773960000","type":"clock","occurred_at":"2026-11-27T10:06:00Z"}
`
