"""One module per RFC 6252 reproduction, each registering what it adds to the generic report
(analysis/reproduction.py explains the registration API):

  fig10   Figure 10 (C.5.3): 802.11i post-/pre-authentication and MPA-assisted layer-2
          pre-authentication, beside the RFC; its structure as checks; bars, distribution,
          and the time affecting handover against the inter-domain RTT of a sweep
  fig7    Figure 7 (C.5.1): SIP mobility with MPA (buffering off/on) and the non-MPA
          baseline beside the RFC; the non-MPA / MPA ratio; its claims as checks (loss,
          parts of the delay, tshark on the captures); RTP arrivals and delays

  c52     C.5.2: WLAN to cellular, reactive and MPA (both interfaces up / activated at the
          handover) beside the RFC's prose; its claims as checks; arrivals per scheme and the
          time both interfaces were up

  c6      C.6: MPA success against the MN's velocity (movements at real speed) for both
          MPA depths, beside the limit D / budget from the phase times measured in the same
          run; the RFC's worked example recomputed
  c1      C.1/C.2: switch-back with the MPA-SA kept at the PAA and without context; C.2's
          claims as checks, the PAA's state ladder


A module here imports the pipeline (reproduction, records, parameters, plots, ladder), never
a sibling.
"""
