"""Word lists of the local guard, one block per language.

Words are written as people type them, with accents; `local.py` folds every entry with
the same `normalize.fold` it applies to messages, so "möchte" here matches "mochte" and
"MÖCHTE" there. Each word gets a one-letter class; the grammar in `local.py` reads the
sequence of classes ("V T D P" = "talk to a human"), so a new language needs words,
not new rules.

Classes:
    P  a person you can be handed to: human, agent, representative, operator, staff
    Q  an unspecified person: someone, anybody, quelqu'un, jemand
    q  people in general: only counts after a verb of talking ("talk to people")
    V  a verb of talking, contacting, connecting or transferring
    W  a verb of wanting or getting with the person as object ("I want a human")
    w  the same, placed after the person (Dutch "nodig", Hindi "chahiye", Turkish "istiyorum")
    H  help, as in "help from a person"
    T  a linking word: preposition, object pronoun, postposition ("with", "me", "con", "se")
    D  a determiner or modifier ("a", "real", "live", "customer", "fucking")
    O  English "to": links a verb to a person, but "an agent to speak with X" is no request
    Y  what gets transferred or escalated ("case", "ticket", "issue")
    Z  a filler that may sit between the parts ("please", "now", "bitte", "zu")
    N  a negation before what it negates ("not", "no quiero", "pas", "nicht")
    n  a negation only when a verb or person follows (English/Spanish "no")
    M  a negation after what it negates (Hindi "nahi", Turkish "istemiyorum")
    A  available / online
    E  "is there", "do you have", "hay", "gibt es"
    S  customer service as a unit: asking for it is the ambiguous class, not a person
    B  a compound about people that is never a request ("human resources", "travel agent")

Merges rewrite multi-word expressions into one token before classification: idioms
("get in touch with" -> "contact"), compounds that change meaning ("travel agent" ->
"travel_agent", class B), or customer-service names ("customer support" -> S).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Language:
    code: str
    words: dict[str, str]  # class letter -> space-separated words
    merges: dict[str, str] = field(default_factory=dict)  # phrase -> replacement (may be several words)
    stems: dict[str, str] = field(default_factory=dict)  # class letter -> regex a whole word must match
    about: tuple[str, ...] = ()  # phrases about people, merged into one class-B token each
    affirm: str = ""  # one-word answers meaning yes; AFFIRM_TAIL words may follow ("yes please")
    refuse: str = ""  # one-word answers meaning no; AFFIRM_TAIL or REFUSE_TAIL words may follow
    frustration: tuple[str, ...] = ()  # regex fragments over the folded token string
    bot_question: tuple[str, ...] = ()  # regex fragments: asking whether the other side is a bot
    injection: tuple[str, ...] = ()  # regex fragments: text posing as instructions
    clause_words: str = ""  # conjunctions that start a new clause


EN = Language(
    code="en",
    words={
        "P": "human humans person persons agent agents representative representatives rep reps operator "
             "operators staff staffer employee employees supervisor manager advisor adviser consultant "
             "consultants specialist teammate teammates colleague colleagues technician humanbeing livechat teammember "
             "assistant assistants",
        "Q": "someone somebody anyone anybody",
        "q": "people",
        "V": "talk talking speak speaking chat chatting contact contacting reach reaching call calling "
             "connect connecting transfer transferring escalate escalating redirect direct forward route "
             "communicate communicating converse",
        "W": "want need needs request requesting demand demanding require prefer get getting give",
        "H": "help helping assist assistance",
        "O": "to",
        "T": "with me us through for over from of this it",
        # What is being transferred or escalated: "transfer my call to an agent".
        "Y": "case issue ticket problem conversation question matter complaint query",
        # Not "my": "I'll talk to my manager" is about the user's own people.
        "D": "a an the some any one your ur real actual live genuine proper qualified competent "
             "another other different customer client sales billing tech technical care fucking fking "
             "freaking frickin damn bloody goddamn effing single actual",
        "Z": "please now asap immediately right away straight again quickly hi hello hey said just only um uh",
        "N": "not never without nor neither noneed nothanks nevermind",
        "n": "no",
        "A": "available online around free",
        "E": "isthere",
        "S": "customerservice support service helpdesk",
    },
    merges={
        # Apostrophe-less contractions and chat spellings.
        "dont": "do not", "doesnt": "does not", "didnt": "did not", "cant": "can not", "cannot": "can not",
        "wont": "will not", "isnt": "is not", "arent": "are not", "aint": "is not", "wasnt": "was not",
        "werent": "were not", "couldnt": "could not", "wouldnt": "would not", "shouldnt": "should not",
        "havent": "have not", "hasnt": "has not", "im": "i am", "ive": "i have", "youre": "you are",
        "u": "you", "ur": "your", "pls": "please", "plz": "please", "plse": "please", "pleas": "please",
        "wanna": "want to", "wana": "want to", "gonna": "going to", "gotta": "got to", "lemme": "let me",
        "gimme": "give me", "w": "with", "2": "to", "some1": "someone", "sum1": "someone", "any1": "anyone",
        "ppl": "people", "callback": "call", "call back": "call",
        "id like": "i want", "i would like": "i want", "would like": "want", "would love": "want",
        "would prefer": "want", "would rather": "want", "rather have": "want",
        "can i have": "want", "could i have": "want", "may i have": "want", "can i get": "want",
        "could i get": "want", "ask for": "want", "asking for": "want", "looking for": "want",
        "get in touch with": "contact", "get in touch": "contact", "get a hold of": "contact",
        "get hold of": "contact", "get ahold of": "contact", "reach out to": "contact",
        "be in contact with": "contact", "in contact with": "contact", "in touch with": "contact",
        "put me in touch with": "connect me with",
        # Passive: "could I be connected to an agent", "I want to get transferred to a human".
        "be connected": "connect", "be transferred": "transfer", "be put through": "connect",
        "get connected": "connect", "get transferred": "transfer", "be redirected": "redirect",
        "be escalated": "escalate", "be passed": "connect", "being connected": "connect",
        "being transferred": "transfer",
        "put me through to": "connect me to", "put me through": "connect me", "put through": "connect",
        "hand me over to": "connect me to", "hand you over to": "connect you to", "hand you over": "connect you",
        "put you through to": "connect you to", "put you through": "connect you", "pass you to": "connect you to",
        "put you in touch with": "connect you with", "hand me over": "connect me", "hand over": "connect",
        "hook me up with": "connect me with", "patch me through": "connect me", "switch me to": "connect me to",
        "pass me on to": "connect me to", "pass me to": "connect me to", "pass me over to": "connect me to",
        "is there": "isthere", "are there": "isthere", "there is": "isthere", "there are": "isthere",
        "is their": "isthere", "their is": "isthere", "are their": "isthere", "do you have": "isthere",
        "do you guys have": "isthere",
        "human being": "humanbeing", "human beings": "humanbeing", "team member": "teammember",
        "team members": "teammember", "flesh and blood": "real",
        "live chat": "livechat", "live support": "livechat", "human support": "livechat",
        "human help": "livechat", "human assistance": "livechat", "live person": "real person",
        "customer service": "customerservice", "customer services": "customerservice",
        "customer support": "customerservice", "customer care": "customerservice",
        "client service": "customerservice", "client support": "customerservice",
        "client services": "customerservice", "support team": "customerservice",
        "help desk": "helpdesk", "service desk": "helpdesk", "call center": "helpdesk",
        "call centre": "helpdesk", "contact center": "helpdesk", "tech support": "helpdesk",
        "technical support": "helpdesk", "customerservice department": "customerservice",
        "customerservice team": "customerservice", "customerservice line": "customerservice",
        "no need": "noneed", "no thanks": "nothanks", "no thank you": "nothanks", "never mind": "nevermind",
        "not necessary": "not", "rather not": "not", "instead of": "not", "rather than": "not",
        "no longer": "not", "no more": "not",
    },
    about=(
        "human resources", "human resource", "human rights", "human error", "human nature", "human race",
        "human body", "human trafficking", "travel agent", "travel agents", "travel agency", "real estate agent",
        "estate agent", "insurance agent", "secret agent", "booking agent", "shipping agent", "customs agent",
        "free agent", "double agent", "cleaning agent", "talent agent", "literary agent", "sports agent",
        "property agent", "letting agent", "fbi agent", "border agent", "delivery agent", "user agent",
        "operator error", "tour operator", "mobile operator", "network operator", "telecom operator",
        "crane operator", "machine operator", "in person", "password manager", "task manager", "file manager",
        "download manager", "package manager", "legal representative", "person of interest",
        "first person", "third person", "missing person",
        # An assistant that is software, not a person: "my voice assistant", "your AI assistant".
        "virtual assistant", "virtual assistants", "ai assistant", "digital assistant", "voice assistant",
        "chat assistant", "automated assistant", "smart assistant", "google assistant", "personal assistant",
        "shopping assistant", "bot assistant", "assistant bot",
    ),
    affirm="yes yeah yea yep yup ya yah sure ok okay k please absolutely definitely alright great perfect",
    refuse="no nope nah nothanks noneed nevermind",
    frustration=(
        r"useless", r"not (?:very )?help(?:ing|ful)", r"unhelpful", r"(?:do|does|can) not understand",
        r"not understanding", r"waste of (?:my )?time", r"stupid", r"dumb", r"ridiculous", r"pointless",
        r"fed up", r"(?:nobody|no one|noone) (?:here )?(?:can|will|is able|could|seems|ever|is)",
        r"not working", r"sucks", r"terrible", r"worst", r"garbage", r"frustrat\w*", r"annoy\w*",
        r"hopeless", r"you are not helping", r"this is (?:a )?joke",
    ),
    bot_question=(
        r"(?<!\S)(?:are you|are you even|is this|is that|is it|"
        r"am i (?:talking|speaking|chatting) (?:to|with)|are we (?:talking|speaking|chatting) (?:to|with)|"
        r"i am (?:talking|speaking|chatting) (?:to|with))"
        r"(?: (?:a|an|the|really|actually|even|just|still|real|live|actual|some|genuine))* "
        r"(?:human|humanbeing|person|bot|robot|machine|ai|chatbot|computer|automated|program|people|"
        r"somebody|someone|agent)(?: or (?:a |an )?(?:real )?\w+)?(?= \||$)",
    ),
    injection=(
        r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:previous|prior|above|earlier|all|your|the|"
        r"system|any)\b.{0,30}\b(?:instructions?|prompts?|rules?|directions?|guidelines?|directives?)\b",
        r"\byou are now\b", r"\bnew instructions?\b", r"\bdeveloper mode\b", r"\bjailbreak\b",
        r"\bdo anything now\b", r"\bescalate_to_human\b", r"\brequest_human\b", r"\btool_?call\b",
        r"\bfunction_?call\b", r"\bsystem prompt\b", r"\bsystem override\b", r"\badmin override\b",
    ),
    clause_words="and but so because then also though however",
)

ES = Language(
    code="es",
    words={
        "P": "humano humana humanos persona agente agentes representante operador operadora operadores "
             "asesor asesora asesores ejecutivo ejecutiva empleado empleada encargado encargada supervisor "
             "gerente especialista trabajador tecnico asistente asistentes",
        "Q": "alguien",
        "q": "personas gente",
        "V": "hablar hable hablo hablando conversar platicar charlar chatear comunicar comunicarme comunicame "
             "comuniqueme contactar contactarme contacteme conectar conectarme conectame conecteme transferir "
             "transfiereme transferirme pasar pasame paseme pasarme pase pases llamar atienda atiendan atender comunico "
             "comunique transfiera transfiere conecte",
        "W": "quiero quisiera necesito deseo pido solicito exijo prefiero dame deme busco",
        "H": "ayuda ayudar ayudarme ayude",
        "T": "con a al de del por me para",
        "D": "un una uno el la los las algun alguna real verdadero verdadera vivo su tu otro otra",
        "Z": "favor porfavor ya ahora inmediatamente urgente puedo podria",
        "N": "nunca sin ni",
        "n": "no",
        "A": "disponible disponibles",
        "E": "hay",
        "S": "soporte",
    },
    merges={
        "ponerme en contacto": "contactar", "ponerse en contacto": "contactar", "poner en contacto": "contactar",
        "en contacto con": "contactar con", "me gustaria": "quiero", "me encantaria": "quiero",
        "ser humano": "humano", "seres humanos": "humano", "de carne y hueso": "real", "de verdad": "real",
        "servicio al cliente": "soporte", "atencion al cliente": "soporte", "servicio tecnico": "soporte",
        "soporte tecnico": "soporte", "servicio de atencion al cliente": "soporte",
        "no hace falta": "sin", "no es necesario": "sin", "no gracias": "sin", "por favor": "favor",
    },
    about=("recursos humanos", "derechos humanos", "error humano", "agente de viajes", "agencia de viajes",
           "agente inmobiliario", "agente de seguros", "en persona", "asistente virtual", "asistente de voz"),
    affirm="si claro vale dale ok okey bueno perfecto favor porfa",
    refuse="no sin",
    frustration=(r"inutil", r"no sirve", r"no me (?:estas )?ayuda", r"no (?:me )?entiendes", r"perdida de tiempo",
                 r"estupid\w*", r"harto", r"nadie (?:me )?(?:puede|ayuda)"),
    bot_question=(r"(?<!\S)(?:eres|es|sos|estoy hablando con|hablo con)(?: (?:un|una|el|la|realmente|real))* "
                  r"(?:bot|robot|humano|humana|persona|maquina|ia|real)(?= \||$| o )",),
    injection=(r"\bignora\w* (?:\w+ ){0,3}instrucciones\b",),
    clause_words="y pero porque",
)

FR = Language(
    code="fr",
    words={
        "P": "humain humaine humains personne agent agente conseiller conseillere conseillers operateur "
             "operatrice representant representante employe employee responsable interlocuteur technicien "
             "superviseur assistante",
        "Q": "quelqu_un",
        "q": "gens",
        "V": "parler parle discuter contacter joindre appeler connecter transferer transferez transfere "
             "transferes passer passez passe echanger mettre",
        "W": "veux voudrais souhaite souhaiterais aimerais besoin demande exige prefere donnez cherche",
        "H": "aide aider",
        "T": "a au avec d de du moi me m",
        "D": "un une le la l les des vrai vraie veritable reel reelle vivant votre ton autre",
        "Z": "svp stp plait maintenant tout suite peux pourrais puis",
        "N": "pas ne jamais sans aucun",
        "A": "disponible disponibles",
        "E": "ilya",
        "S": "serviceclient",
    },
    merges={
        "quelqu un": "quelqu_un", "quelqu une": "quelqu_un", "personne ne": "nobody", "personne n": "nobody",
        "mettre en relation": "connecter", "me mettre en relation": "me connecter", "en relation avec": "connecter avec",
        "entrer en contact": "contacter", "prendre contact": "contacter", "etre humain": "humain",
        "en chair et en os": "vrai", "de vrai": "vrai", "service client": "serviceclient",
        "service clientele": "serviceclient", "support client": "serviceclient", "service apres vente": "serviceclient",
        "il y a": "ilya", "y a t il": "ilya", "y a t": "ilya", "puis je avoir": "veux", "je peux avoir": "veux",
        "s il vous plait": "svp", "s il te plait": "stp", "non merci": "sans",
    },
    about=("ressources humaines", "agent de voyage", "agent de voyages", "agence de voyage", "en personne",
           "agent immobilier", "erreur humaine", "droits de l homme", "agent d assurance", "assistant virtuel",
           "assistant vocal", "assistante virtuelle", "assistante vocale"),
    affirm="oui ouais ok volontiers svp stp parfait",
    refuse="non sans",
    frustration=(r"inutile", r"\bnul\b", r"sert a rien", r"ne m aide(?:s|z)? pas", r"ne comprend\w* (?:pas|rien)",
                 r"perte de temps", r"marre", r"nobody"),
    bot_question=(r"(?<!\S)(?:es tu|etes vous|tu es|vous etes|c est|est ce|est ce que je parle a|je parle a|"
                  r"est ce que vous etes|est ce que tu es|"
                  r"je parle avec)(?: (?:un|une|vraiment|vrai|vraie))* "
                  r"(?:bot|robot|humain|humaine|personne|machine|ia|reel|reelle)(?= \||$| ou )",),
    injection=(r"\bignore\w* (?:\w+ ){0,3}instructions\b", r"\boublie\w* (?:\w+ ){0,3}instructions\b"),
    clause_words="et mais car donc",
)

DE = Language(
    code="de",
    words={
        "P": "mensch menschen menschlichen person mitarbeiter mitarbeiterin mitarbeitenden berater beraterin "
             "agent agenten vertreter kundenbetreuer kundenberater sachbearbeiter operator ansprechpartner "
             "servicemitarbeiter supervisor vorgesetzten techniker assistent assistenten assistentin",
        "Q": "jemand jemanden jemandem",
        "q": "leute",
        "V": "sprechen reden chatten kontaktieren erreichen verbinden verbinde verbindet weiterleiten "
             "durchstellen telefonieren anrufen schreiben",
        "W": "will mochte mochten brauche benotige verlange hattegern",
        "H": "hilfe helfen",
        "T": "mit zu an mich mir zum",
        "D": "einem einen ein eine einer echten echter echte richtigen richtige lebenden realen dem den der "
             "die das ihrem einen anderen",
        "Z": "bitte sofort jetzt gerne gern sie du ich kann konnte",
        "N": "nicht kein keinen keine keinem nie ohne",
        "A": "verfugbar erreichbar",
        "E": "gibtes",
        "S": "kundenservice kundendienst kundensupport hotline",
    },
    merges={"in verbindung setzen": "kontaktieren", "stellen sie mich durch": "verbinden mich",
            "hatte gern": "hattegern", "hatte gerne": "hattegern", "wurde gerne": "mochte", "wurde gern": "mochte",
            "gibt es": "gibtes", "ist da jemand": "gibtes jemand", "nein danke": "nicht", "nicht notig": "nicht",
            "kein bedarf": "nicht", "echte person": "echte person"},
    about=("menschliches versagen", "personalabteilung", "reiseburo", "versicherungsvertreter",
           "menschenrechte", "personlich", "virtueller assistent", "virtuellen assistenten",
           "digitaler assistent", "digitalen assistenten", "sprachassistent"),
    affirm="ja gerne bitte klar okay ok genau naturlich jawohl gern sicher",
    refuse="nein nicht",
    frustration=(r"nutzlos", r"bringt nichts", r"hilfts? (?:mir )?nicht", r"verstehst (?:mich )?nicht",
                 r"zeitverschwendung", r"blod\w*", r"niemand kann"),
    bot_question=(r"(?<!\S)(?:bist du|sind sie|ist das|spreche ich mit|rede ich mit|chatte ich mit)"
                  r"(?: (?:ein|eine|einem|einer|echt|wirklich|echter|echten))* "
                  r"(?:bot|roboter|mensch|menschen|person|maschine|ki)(?= \||$| oder )",),
    injection=(r"\bignorier\w* (?:\w+ ){0,3}anweisungen\b", r"\bvergiss (?:\w+ ){0,3}anweisungen\b"),
    clause_words="und aber weil denn",
)

IT = Language(
    code="it",
    words={
        "P": "umano umana umani persona operatore operatrice operatori agente rappresentante consulente "
             "addetto addetta dipendente responsabile tecnico assistente",
        "Q": "qualcuno",
        "V": "parlare parlo parli chattare contattare contattarmi collegare collegarmi collegami passare "
             "passarmi passami trasferire trasferirmi trasferiscimi chiamare",
        "W": "voglio vorrei bisogno chiedo esigo preferisco dammi",
        "H": "aiuto aiutare aiutarmi",
        "T": "con a al alla col di d mi me",
        "D": "un una uno il lo l vero vera reale vivo altro",
        "Z": "favore subito ora adesso posso potrei",
        "N": "non mai senza nessun nessuno",
        "A": "disponibile disponibili",
        "E": "c_e",
        "S": "servizioclienti",
    },
    merges={"mettermi in contatto": "contattare", "mettere in contatto": "contattare", "in contatto con": "contattare con",
            "ho bisogno": "bisogno", "mi serve": "bisogno", "essere umano": "umano", "in carne e ossa": "vero",
            "servizio clienti": "servizioclienti", "assistenza clienti": "servizioclienti",
            "c e": "c_e", "per favore": "favore", "no grazie": "non", "non serve": "non"},
    about=("risorse umane", "agente di viaggio", "agenzia di viaggi", "errore umano", "di persona",
           "agente immobiliare", "diritti umani", "assistente virtuale",
           "assistente vocale"),
    affirm="si certo ok volentieri favore perfetto",
    refuse="no non",
    frustration=(r"inutile", r"non serve a (?:niente|nulla)", r"non mi aiut\w*", r"non capisci",
                 r"perdita di tempo"),
    bot_question=(r"(?<!\S)(?:sei|e|sto parlando con|parlo con)(?: (?:un|una|davvero|vero|vera))* "
                  r"(?:bot|robot|umano|umana|persona|macchina|ia|reale)(?= \||$| o )",),
    injection=(r"\bignora (?:\w+ ){0,3}istruzioni\b",),
    clause_words="ma perche",
)

PT = Language(
    code="pt",
    words={
        "P": "humano humana pessoa atendente atendentes agente representante operador operadora consultor "
             "consultora funcionario funcionaria gerente supervisor especialista tecnico assistente",
        "Q": "alguem",
        "V": "falar falo conversar contatar contactar ligar conectar transferir transfira transfere passar passa "
             "passe chamar",
        "W": "quero queria gostaria preciso desejo peco exijo prefiro",
        "H": "ajuda ajudar",
        "T": "com a ao de do da me pra para por",
        "D": "um uma o real verdadeiro verdadeira seu sua outro",
        "Z": "favor agora ja posso poderia",
        "N": "nao nunca sem nem",
        "A": "disponivel",
        "E": "tem",
        "S": "sac suporte",
    },
    merges={"entrar em contato": "contatar", "em contato com": "contatar com", "ser humano": "humano",
            "de verdade": "real", "de carne e osso": "real", "atendimento ao cliente": "sac",
            "servico de atendimento": "sac", "central de atendimento": "sac", "atendimento humano": "humano",
            "atendimento": "sac", "por favor": "favor", "nao obrigado": "nao", "nao obrigada": "nao",
            "nao precisa": "nao"},
    about=("recursos humanos", "agente de viagens", "agencia de viagens", "em pessoa", "erro humano",
           "direitos humanos", "assistente virtual", "assistente de voz"),
    affirm="sim claro ok favor isso beleza certo",
    refuse="nao",
    frustration=(r"inutil", r"nao (?:me )?ajuda", r"nao (?:me )?entende", r"nao serve (?:para|pra) nada",
                 r"perda de tempo"),
    bot_question=(r"(?<!\S)(?:voce e|vc e|e|estou falando com|to falando com|falo com)(?: (?:um|uma|mesmo|real))* "
                  r"(?:bot|robo|humano|humana|pessoa|maquina|ia|real)(?= \||$| ou )",),
    injection=(r"\bignor\w* (?:\w+ ){0,3}instrucoes\b",),
    clause_words="mas porque",
)

NL = Language(
    code="nl",
    words={
        "P": "mens medewerker medewerkster persoon agent vertegenwoordiger operator adviseur "
             "klantenservicemedewerker",
        "Q": "iemand",
        "V": "spreken praten chatten contacteren bellen verbinden verbind doorverbinden doorverbonden bereiken",
        "W": "wil wens",
        "w": "nodig",
        "T": "met tot naar mij om",
        "D": "een de het echte echt levende uw",
        "Z": "graag alsjeblieft alstublieft nu zou kan te door",
        "N": "niet geen nooit zonder",
        "A": "beschikbaar",
        "E": "iser",
        "S": "klantenservice klantendienst",
    },
    merges={"contact opnemen met": "contacteren met", "in contact komen met": "contacteren met",
            "is er": "iser", "zijn er": "iser", "nee dank je": "niet", "nee dankjewel": "niet",
            "nee dank u": "niet", "niet nodig": "niet"},
    about=("in persoon", "personeelszaken", "reisagent", "reisbureau", "menselijke fout"),
    affirm="ja graag prima oke ok goed zeker alsjeblieft alstublieft",
    refuse="nee niet",
    frustration=(r"nutteloos", r"helpt (?:me )?niet", r"begrijp\w* (?:je|me|mij) niet", r"waardeloos",
                 r"tijdverspilling"),
    bot_question=(r"(?<!\S)(?:ben je|ben jij|bent u|is dit|praat ik met|spreek ik met|chat ik met)"
                  r"(?: (?:een|echt|echte))* (?:bot|robot|mens|persoon|machine|ai)(?= \||$| of )",),
    injection=(r"\bnegeer (?:\w+ ){0,3}instructies\b",),
    clause_words="en maar omdat",
)

PL = Language(
    code="pl",
    words={
        "Q": "ktos kims kogos",
        "V": "rozmawiac porozmawiac rozmowa rozmowe rozmowy skontaktowac kontakt kontaktu polaczyc polacz "
             "polaczenie polaczcie przelaczyc przelacz przekierowac przekieruj zadzwonic pogadac mowic porozmawiam",
        "W": "chce chcialbym chcialabym potrzebuje prosze poprosze",
        "T": "z ze do mnie mi o sie",
        "D": "jakims jakiegos zywym zywego zywa prawdziwym prawdziwa prawdziwego prawdziwej waszym",
        "Z": "teraz natychmiast czy moge mozna",
        "N": "nie bez nigdy zadnego zadnej",
        "A": "dostepny dostepna dostepnego",
        "E": "czyjest",
        "S": "infolinia wsparcie",
    },
    stems={
        # Declined nouns: "konsultantem", "człowiekiem", "osobą", "pracownika".
        "P": r"(?:czlowiek|konsultant|osob[aeyi]|pracownik|agent|przedstawiciel|operator|doradc|specjalist)\w*",
    },
    merges={"obsluga klienta": "infolinia", "obslugi klienta": "infolinia", "biuro obslugi": "infolinia",
            "dzial obslugi": "infolinia", "czy jest": "czyjest", "nie dziekuje": "nie", "nie trzeba": "nie"},
    about=("zasoby ludzkie", "dzial kadr", "agent ubezpieczeniowy", "biuro podrozy"),
    affirm="tak poprosze prosze dobrze jasne ok oczywiscie",
    refuse="nie",
    frustration=(r"bezuzyteczn\w*", r"nie pomagasz", r"nie rozumiesz", r"strata czasu", r"do niczego"),
    bot_question=(r"(?<!\S)(?:czy )?(?:jestes|to jest|czy to|rozmawiam z|pisze z)(?: (?:prawdziwym|prawdziwa|zywym))* "
                  r"(?:bot|botem|robot|robotem|czlowiek|czlowiekiem|osoba|maszyna|ai)(?= \||$| czy )",),
    injection=(r"\bzignoruj (?:\w+ ){0,3}instrukcje\b",),
    clause_words="ale bo",
)

RU = Language(
    code="ru",
    words={
        "Q": "ктото кемто ктонибудь кемнибудь когонибудь",
        "V": "поговорить говорить разговаривать связаться связать свяжите соедините соединить соедини переключите "
             "переключить переключи переведите перевести позвонить пообщаться общаться обратиться дозвониться",
        "W": "хочу хотел хотела нужен нужна нужно дайте позовите прошу",
        "T": "с со к на мне меня",
        "D": "живым живой живого настоящим настоящий настоящего реальным реальный вашим каким-нибудь",
        "Z": "пожалуйста срочно сейчас можно",
        "N": "не без никогда",
        "A": "доступен свободен",
        "E": "естьли",
        "S": "поддержка поддержкой поддержки техподдержка техподдержкой",
    },
    stems={
        "P": r"(?:человек|оператор|сотрудник|специалист|консультант|менеджер|агент|представител|администратор)\w*",
    },
    merges={"служба поддержки": "поддержка", "службой поддержки": "поддержка", "службу поддержки": "поддержка",
            "колл центр": "поддержка", "кто то": "ктото", "кем то": "кемто",
            "кто нибудь": "ктонибудь", "кем нибудь": "кемнибудь", "кого нибудь": "когонибудь",
            "каким нибудь": "вашим", "есть ли": "естьли", "нет спасибо": "не", "не нужно": "не", "не надо": "не"},
    about=("отдел кадров", "страховой агент", "турагент", "человеческий фактор"),
    affirm="да давайте давай конечно хорошо ок пожалуйста ага",
    refuse="нет не",
    frustration=(r"бесполезн\w*", r"не помога\w*", r"не понима\w*", r"туп\w*"),
    bot_question=(r"(?<!\S)(?:ты|вы|это|я говорю с|я общаюсь с|я разговариваю с)(?: (?:живой|настоящий|реальный))* "
                  r"(?:бот|ботом|робот|роботом|человек|человеком|машина|ии)(?= \||$| или )",),
    injection=(r"\bигнорир\w* (?:\w+ ){0,3}инструкци\w*",),
    clause_words="и но потому",
)

TR = Language(
    code="tr",
    words={
        "Q": "biri birisi biriyle birisiyle birine birisine",
        "w": "istiyorum isterim lazim",
        "T": "ile",
        "D": "bir gercek",
        "Z": "lutfen hemen simdi acaba",
        "M": "istemiyorum istemem",
        "A": "musait var",
        "S": "destek",
    },
    stems={
        # Suffixes carry the case: "temsilciyle" (with a representative), "insana" (to a human).
        "P": r"(?:insan|temsilci|operator|yetkili|kisi|gorevli|personel|calisan|eleman|canlidestek)\w*",
        # Verb stems, but not the past tense ("konuştum", I talked): that describes, it does not ask.
        "V": r"(?:konus|gorus|baglan|bagla|aktar|ulas|yonlendir)(?![dt][iu])\w*",
    },
    merges={"canli destek": "canlidestek", "musteri hizmetleri": "destek", "gerek yok": "istemiyorum",
            "ihtiyacim yok": "istemiyorum", "hayir tesekkurler": "istemiyorum"},
    about=("insan kaynaklari", "seyahat acentesi", "sigorta acentesi", "insan haklari"),
    affirm="evet olur tamam lutfen tabii tabi peki",
    refuse="hayir istemiyorum",
    frustration=(r"ise yaramiyor", r"anlamiyorsun", r"yardimci olmuyorsun", r"sacma"),
    bot_question=(r"(?:bot|robot|insan|makine)(?: \w+)? (?:mi|mu|misin|musun|mi?yim)(?= \||$)",),
    injection=(r"\b(?:onceki|tum) talimatlari\b",),
    clause_words="ve ama cunku",
)

AR = Language(
    code="ar",
    words={
        "P": "انسان بشري شخص موظف وكيل ممثل مندوب مشرف مسؤول مدير عامل",
        "Q": "احد حد",
        "V": "اتحدث تحدث التحدث يتحدث اتكلم تكلم التكلم اكلم كلم يكلم حولني حولوني تحويلي تحويل حول اوصلني "
             "وصلني توصيلي اتصال الاتصال اتصل التواصل اتواصل تواصل كلمني محادثه",
        "W": "اريد ابغى ابي عايز عاوز بدي اود اطلب محتاج احتاج",
        "T": "مع الى لي",
        "D": "حقيقي حقيقيه واحد",
        "Z": "ممكن فضلك لوسمحت الان",
        "N": "لا لست مش بدون ليس لن مو",
        "A": "متاح متوفر موجود",
        "E": "يوجد",
        "S": "خدمهالعملاء الدعم",
    },
    merges={"خدمه العملاء": "خدمهالعملاء", "الدعم الفني": "الدعم", "هل يوجد": "يوجد", "في حد": "يوجد حد",
            "من فضلك": "فضلك", "لو سمحت": "لوسمحت", "لا شكرا": "لا"},
    about=("الموارد البشريه", "موارد بشريه", "وكيل سفر", "وكيل السفر", "حقوق الانسان"),
    affirm="نعم ايوه ايوا اجل حسنا اكيد تمام طيب ماشي فضلك لوسمحت يب",
    refuse="لا",
    frustration=(r"غير مفيد", r"لا فائده", r"مش فاهم", r"ما فهمت"),
    bot_question=(r"(?<!\S)(?:هل )?(?:انت|انتي|هذا)(?: \S+)? (?:روبوت|بوت|انسان|الي|بشري)(?= \||$)",),
    injection=(r"تجاهل (?:\S+ ){0,3}التعليمات",),
    clause_words="لكن",
)

HI = Language(
    code="hi",
    words={
        "P": "इंसान इन्सान मानव व्यक्ति आदमी एजेंट प्रतिनिधि कर्मचारी ऑपरेटर अधिकारी insaan insan insaan aadmi "
             "admi vyakti manav karmachari pratinidhi",
        "Q": "किसी kisi",
        "V": "बात बातचीत कनेक्ट जोड़ो जोड़िए जोड़ें ट्रांसफर संपर्क मिलाओ मिलाइए baat bat baatcheet jodo jodiye "
             "milao milaiye sampark karwao karao",
        "w": "चाहिए चाहता चाहती चाहते chahiye chaiye chahie chahta chahti chahte",
        "T": "से को के साथ se ko ke saath sath",
        "D": "कोई असली सच्चे koi asli sachche",
        "Z": "करनी करना करो कीजिए करवाओ कराओ कर सकता सकती सकते है हूँ हूं मुझे जरा जल्दी karni karna karo kijiye kar kr "
             "sakta sakti sakte skta hai hoon hu mujhe muje zara jaldi do dijiye karwa kara karva karvao karwaiye",
        "M": "नहीं नही मत nahi nahin nai mat",
        "A": "उपलब्ध",
        "S": "ग्राहकसेवा",
    },
    merges={"ग्राहक सेवा": "ग्राहकसेवा", "कस्टमर केयर": "ग्राहकसेवा", "कस्टमर सर्विस": "ग्राहकसेवा"},
    about=("मानव संसाधन",),
    affirm="हाँ हां हा जी ठीक haan han ha haa ji theek thik zaroor bilkul",
    refuse="नहीं नही nahi nahin na",
    frustration=(r"बेकार", r"bekaa?r", r"samajh nahi", r"समझ नहीं"),
    bot_question=(r"(?<!\S)(?:क्या |kya )?(?:आप|तुम|aap|ap|tum)(?: \S+)? (?:बॉट|रोबोट|इंसान|मशीन|bot|robot|insaan|insan|"
                  r"machine)(?: \S+)? (?:हो|हैं|है|ho|hai|hain)(?= \||$)",),
    injection=(r"पिछले (?:\S+ ){0,2}निर्देश", r"\bpichle (?:\S+ ){0,2}instructions?\b"),
    clause_words="और लेकिन aur lekin par",
)

LANGUAGES: tuple[Language, ...] = (EN, ES, FR, DE, IT, PT, NL, PL, RU, TR, AR, HI)

# Words that may follow a no: "no thanks", "no, not now", "nein danke", "nee, niet nodig".
REFUSE_TAIL = (
    "thanks thank you not now need i am good fine really gracias merci danke grazie obrigado obrigada dank je "
    "bedankt dziekuje спасибо надо tesekkurler gerek yok شكرا nodig notig besoin pas"
)

# Words that may follow a yes without changing it: "yes please", "sí, por favor", "oui merci".
AFFIRM_TAIL = (
    "please thanks thank you go ahead do it that would be great good sounds of course all right sure thing "
    "por favor gracias de acuerdo por supuesto merci d accord bien sur allez y s il vous plait danke gerne "
    "grazie va bene per favore obrigado obrigada pode ser com certeza dank je doe maar hoor dziekuje "
    "спасибо tesekkurler شكرا من هے hai है ji जी ji"
)

# Arabic attaches articles and prepositions to the word: "بالموظف", "للموظف", "والموظف".
ARABIC_PREFIXES = ("وبال", "وال", "بال", "لل", "ال", "و", "ب", "ل", "ف")

# Keywords worth correcting when mistyped, and real words one edit away from one of them
# that must stay as they are ("stuff" is not "staff", "argent" is money, not "agent").
FUZZY_KEYWORDS = (
    "human humans person persons someone somebody anyone anybody agent agents representative "
    "representatives operator operators employee supervisor consultant customer service support contact "
    "contacting connect connecting transfer transferring speak speaking talking chatting available "
    "people assistance assistant direct "
    "persona humano agente operador representante hablar personne humain conseiller parler mensch "
    "mitarbeiter sprechen operatore parlare pessoa atendente falar medewerker spreken konsultant "
    "человек оператор сотрудник поговорить temsilci"
)
PROTECTED = (
    "argent urgent prison personal personally contract contracts humane humor humour speaker spear steak sneak "
    "agenda agency stuff teach react taking walking stalking charting parson reason season serves server servers device "
    "sneaky peak speck poison persian prisons contacts connects transfers persona personas peoples "
    "agente agentes humano humanos human persons someone anyone agents operators opera operate operated "
    "supporter supports servicing services serviced customers customer costumer costume contacted connected "
    "transferred aerator operetta presto support service"
)

# Chinese, Japanese and Korean: no spaces (or particles glued to words), so patterns run
# on the folded text itself. Each list: (regex, reason kind).
CJK_REQUEST: tuple[tuple[str, str, str], ...] = (
    # (language, pattern, kind)
    ("zh", r"(?:转|轉|转接|轉接|接|找|要|叫)(?:一个|一個|一位|个|個|位)?(?:人工|真人)", "ask_for_human"),
    ("zh", r"(?:人工|真人)(?:客服|服务|服務|坐席|座席|接线员|接線員)", "ask_for_human"),
    ("zh", r"(?:和|跟|与|與|同|找|联系|聯繫|联络|聯絡|转|轉|转接|轉接|接通|连接|連接|给我|給我|帮我接|幫我接)"
           r"(?:一个|一個|一位|个|個|位|一名)?(?:真正的)?(?:真人|活人|人类|人類|人工客服|客服人员|客服人員|工作人员|工作人員|"
           r"员工|員工|专员|專員|经理|經理|主管|客服代表|代表|接线员|接線員|人员|人員|人)(?:说话|說話|聊|谈|談|通话|通話|"
           r"沟通|溝通|对话|對話|交流)?", "ask_for_human"),
    ("zh", r"(?:真人|活人|人类|人類|客服人员|客服人員|工作人员|工作人員|经理|經理|主管|人工)(?:说话|說話|聊天|谈|談|通话|通話|沟通|溝通|对话|對話)",
     "ask_for_human"),
    ("zh", r"^(?:我要|要|请|請|给我|給我)?(?:人工|真人|人工客服|真人客服)(?:服务|服務)?(?:吧|啊|呢|谢谢|謝謝|请|請|!|\.)*$",
     "short_request"),
    ("ja", r"(?:オペレーター|オペレータ|担当者|担当の方|担当の人|人間|スタッフ|係員|係の人|有人|生身の人|本物の人|社員|窓口の人|人)"
           r"(?:の方|さん)?(?:と|に|で|へ)?(?:話(?:したい|させ|せ|す|をしたい|がしたい|しをしたい)|はなしたい|代わ(?:って|れ|り)|"
           r"かわって|替わって|変わって|つな(?:いで|げて|が)|繋(?:いで|げて|が)|接続|転送|切り替え|呼んで|相談したい|対応(?:して|を|お願い))",
     "ask_for_human"),
    ("ja", r"(?:オペレーター|オペレータ|担当者|人間|スタッフ|有人対応|有人)(?:を|が|で|に)?(?:お願い|希望|いい|良い|ほしい|欲しい|頼む)",
     "want_human"),
    ("ja", r"^(?:オペレーター|オペレータ|担当者|人間|有人対応)(?:を|に|で)?(?:お願いします|お願い|ください|頼む)?[!?.]*$",
     "short_request"),
    ("ko", r"(?:상담원|상담사|직원|사람|담당자|매니저|인간|상담 ?직원|실제 ?사람|진짜 ?사람)(?:이랑|랑|하고|과|와|한테|에게|께|으로|로|을|를|이|가|님)?"
           r" ?(?:통화|연결|대화|얘기|이야기|말하|말씀|바꿔|바꾸|전화|채팅|연락|상담)", "ask_for_human"),
    ("ko", r"(?:상담원|상담사|직원|담당자|사람)(?:이|가|을|를)? ?(?:필요|원해|원합니다|있나요|있어요\?|불러)", "want_human"),
    ("ko", r"^(?:상담원|상담사|직원|담당자)(?:이요|요|님)? ?(?:연결)? ?(?:해 ?주세요|해줘|부탁|요|좀)?[!?.]*$", "short_request"),
)
CJK_DECLINE = (
    r"(?:不需要|不用|不要|无需|無需|没必要|沒必要|不必|不想)(?:.{0,4})(?:人工|真人|客服|转|轉|人)",
    r"(?:必要ない|必要ありません|いらない|要らない|いりません|結構です|不要|話したくない|代わらなくて)",
    r"(?:필요 ?없|원하지 ?않|안 ?해도|싫어|안 ?할래)",
)
CJK_ABOUT = (r"人工智能|人工智慧|人力资源|人力資源|人事部|旅行社", r"人事部|旅行代理店", r"인사팀|여행사")
CJK_BOT_QUESTION = (
    r"(?:你|您|这|這)(?:是|是不是)(?:机器人|機器人|真人|人|ai|bot|人工智能)(?:吗|嗎|\?|$)",
    r"(?:ボット|ロボット|bot|ai|人間|機械)(?:です|なの)?か[?]?$",
    r"(?:봇|로봇|챗봇|사람|인간|ai)(?:이야|이에요|이예요|예요|야|입니까|인가요|이세요|이니|맞아)",
)
CJK_FRUSTRATION = (r"没用|沒用|听不懂|聽不懂|垃圾", r"役に立たない|使えない|意味がない", r"쓸모 ?없|도움이 안|답답")
CJK_INJECTION = (r"忽略(?:之前|以上|先前|所有|上面)(?:的)?(?:指令|说明|說明|指示|提示)",
                 r"(?:以前|前|上記)の指示を無視", r"이전 ?(?:지시|명령|지침)(?:을|를)? ?무시")
CJK_AFFIRM = frozenset("是 是的 好 好的 可以 要 嗯 对 對 行 麻烦了 麻煩了 谢谢 謝謝 はい ええ うん お願いします お願い 頼む ぜひ "
                       "네 예 응 좋아요 좋아 부탁해요 부탁합니다 그래요 네네 알겠어요".split())
CJK_REFUSE = frozenset("不 不用 不要 不需要 算了 いいえ いや 結構です 大丈夫です 아니요 아니 아뇨 괜찮아요".split())

# Injection patterns that do not depend on the language: role labels and chat markup.
ROLE_INJECTION = (
    r"(?:^|\n)[^\w\n]*(?:system|assistant|developer|admin|administrator|sistema|systeme|sistem|система|نظام|सिस्टम|系统|系統|"
    r"システム|시스템)\s*(?:prompt|message|note|instruction|override)?\s*[:>\]]",
    r"[\[<]\s*/?\s*(?:system|sys|inst|assistant)\s*[\]>]", r"<\|im_start\|>", r"\"role\"\s*:\s*\"system\"",
    r"###\s*(?:instruction|system)",
)
