"""The bank's own records the hotline serves: customers, their accounts and cards, loss reports,
billers and payments. The IVR's self-service (ivr/banking) and the ACD's campaigns read them."""
