"""The RADIUS attributes the testbed's authenticators use (RFC 2865, RFC 3579, RFC 2548),
as a pyrad dictionary. Kept small on purpose: FreeRADIUS's full dictionary uses syntax pyrad
does not parse."""
import io

from pyrad.dictionary import Dictionary

TEXT = """\
ATTRIBUTE	User-Name		1	string
ATTRIBUTE	NAS-IP-Address		4	ipaddr
ATTRIBUTE	NAS-Port		5	integer
ATTRIBUTE	Service-Type		6	integer
ATTRIBUTE	Framed-MTU		12	integer
ATTRIBUTE	Reply-Message		18	string
ATTRIBUTE	State			24	octets
ATTRIBUTE	Session-Timeout		27	integer
ATTRIBUTE	Called-Station-Id	30	string
ATTRIBUTE	Calling-Station-Id	31	string
ATTRIBUTE	NAS-Identifier		32	string
ATTRIBUTE	NAS-Port-Type		61	integer
ATTRIBUTE	EAP-Message		79	octets
ATTRIBUTE	Message-Authenticator	80	octets
ATTRIBUTE	EAP-Key-Name		102	octets
VENDOR		Microsoft		311
BEGIN-VENDOR	Microsoft
ATTRIBUTE	MS-MPPE-Send-Key	16	octets
ATTRIBUTE	MS-MPPE-Recv-Key	17	octets
END-VENDOR	Microsoft
"""

NAS_PORT_TYPE_WIRELESS_802_11 = 19      # RFC 2865 s5.41
ATTRIBUTE_MAX = 253                      # RFC 2865 s5: one octet of Length, 2 of header


def dictionary() -> Dictionary:
    return Dictionary(io.StringIO(TEXT))
