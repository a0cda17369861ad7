"""Payment channel adapters (card gateway, Alipay, WeChat Pay, wallet) behind one interface."""
