"""Lists references from an area of shared/src to an area above it (imports must run one way: platform, auth, users, chats, messages, reactions, webhooks, then broadcasts, exports, audit and analytics). Run from the repository root: python3 scripts/check_layers.py"""
import re, pathlib, sys
order = {"platform":0,"auth":1,"users":2,"chats":3,"messages":4,"reactions":5,"webhooks":6,"broadcasts":7,"exports":7,"audit":7,"analytics":7}
bad=[]
for f in pathlib.Path("shared/src").rglob("*.rs"):
    parts=f.relative_to("shared/src").parts
    if len(parts)<2 or parts[0] not in order: continue
    mine=order[parts[0]]
    for n,line in enumerate(f.read_text().splitlines(),1):
        s=line.strip()
        if s.startswith("//"): continue
        for m in re.finditer(r"crate::(\w+)", s):
            other=m.group(1)
            if other in order and order[other]>mine:
                bad.append(f"{f}:{n}: {parts[0]} -> {other}")
print(len(bad), "upward references"); print("\n".join(bad))
